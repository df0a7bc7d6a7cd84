"""The package's shape (docs/architecture.md): layers that import only downwards, one
folder per method, methods that never import each other, shared code that never imports
a method (the registries name methods by module path, as strings), no import cycles."""

import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fewgen_tf")

# Bottom to top; a unit may import its own layer's other units only where listed in
# SAME_LAYER_ORDER, and any unit of a lower layer.
LAYERS = [
    ["errors"],
    ["settings", "config_upgrades"],
    ["config", "workdir", "workdir_lock", "visualize", "distribute", "seeds", "schedules", "progress",
     "tensor_adam"],
    ["data"],
    ["nets"],
    ["meta"],
    ["generators", "metrics", "training", "export"],
    ["stages"],
    ["methods"],
    ["pipelines"],
    ["main", "config_reference"],
]
SAME_LAYER_ORDER = [  # (importer, imported) pairs allowed within one layer
    ("distribute", "config"),  # the names and ranges of distribute, cpu_devices, threads
]


def _modules():
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
                yield relative.removesuffix(".__init__"), path


def _imports(path):
    """Every fewgen_tf module a file imports, at any depth (function-level included)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fewgen_tf"):
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fewgen_tf"))
    return found


def _unit(module):
    """`fewgen_tf.methods.cola.model` -> ("methods", "cola"); `fewgen_tf.data.rng` -> ("data", None)."""
    parts = module.split(".")[1:]
    if not parts:
        return None, None
    if parts[0] == "methods" and len(parts) > 1:
        return "methods", parts[1]
    return parts[0], None


def _layer(top):
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


IMPORTS = {module: _imports(path) for module, path in _modules()}


def test_every_module_belongs_to_a_layer():
    tops = {_unit(m)[0] for m in IMPORTS} - {None}
    assert tops <= {t for layer in LAYERS for t in layer}, tops - {t for l in LAYERS for t in l}


def test_imports_only_go_down_the_layers():
    wrong = []
    for module, imported in IMPORTS.items():
        top, _ = _unit(module)
        if top is None:
            continue
        for target in imported:
            other, _ = _unit(target)
            if other is None or other == top:
                continue
            if _layer(other) > _layer(top) or (
                    _layer(other) == _layer(top) and (top, other) not in SAME_LAYER_ORDER):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_methods_never_import_each_other_and_shared_code_never_imports_a_method():
    wrong = []
    for module, imported in IMPORTS.items():
        top, method = _unit(module)
        for target in imported:
            other_top, other_method = _unit(target)
            if other_top != "methods" or other_method is None:
                continue
            if top != "methods" or other_method != method:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_modules():
    modules = set(IMPORTS)

    def resolve(target):  # "pkg.module.name" -> the module it names or lives in
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target

    graph = {m: {resolve(t) for t in IMPORTS[m]} - {m, ""} for m in modules}
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join(path + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for m in sorted(modules):
        if m not in state:
            visit(m, [m])


def test_registries_name_every_method_folder():
    from fewgen_tf import pipelines
    from fewgen_tf.generators import registry

    methods = sorted(d for d in os.listdir(os.path.join(PACKAGE, "methods"))
                     if os.path.isfile(os.path.join(PACKAGE, "methods", d, "__init__.py")))
    named = {entry.module.split(".")[2] for entry in pipelines.PIPELINES.values()
             if entry.module.startswith("fewgen_tf.methods.")}
    assert named == set(methods)

    def source(module):
        return os.path.join(os.path.dirname(PACKAGE), *module.split(".")) + ".py"

    for entry in pipelines.PIPELINES.values():
        assert os.path.isfile(source(entry.module))
    for entry in registry.GENERATORS.values():
        assert os.path.isfile(source(entry.builder.split(":")[0]))
    # every method's checks sit in its config.py (the config vocabulary, no TensorFlow)
    checks = [e.checks for e in list(pipelines.PIPELINES.values()) + list(registry.GENERATORS.values())
              if e.checks]
    for path in checks:
        module, function = path.split(":")
        assert module.startswith("fewgen_tf.methods.") and module.endswith(".config"), path
        assert f"def {function}(" in open(source(module)).read(), path
    assert {c.split(".")[2] for c in checks} == set(methods)
