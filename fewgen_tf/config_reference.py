"""Every declared setting, and the generated config reference (docs/config.md).

The vocabularies are the shared ones (fewgen_tf/config.py) and those of each method's
config module, found through the registries that already name those modules (a
pipeline's or a generator's checks), so a new method's keys join the reference without
a list to keep here. `python -m fewgen_tf.config_reference > docs/config.md` rewrites
the reference; tests/settings_test.py fails when it is stale or a shipped key is not
declared. Nothing here imports TensorFlow.
"""

import importlib

from fewgen_tf import config as config_lib
from fewgen_tf import settings


def _method_config_modules():
    from fewgen_tf.generators import registry as generator_registry
    from fewgen_tf.pipelines import PIPELINES

    paths = [e.checks for e in PIPELINES.values()] + [
        e.checks for e in generator_registry.GENERATORS.values()]
    return list(dict.fromkeys(p.split(":")[0] for p in paths if p))


def vocabularies():
    """The shared vocabularies, then each method's (`VOCABULARIES` of its config module)."""
    found = list(config_lib.VOCABULARIES)
    for module in _method_config_modules():
        for vocabulary in getattr(importlib.import_module(module), "VOCABULARIES", ()):
            if vocabulary not in found:
                found.append(vocabulary)
    return found


def declarations():
    """Dotted key -> its one `settings.Setting`; ValueError if two vocabularies declare
    the same key."""
    declared = {}
    for vocabulary in vocabularies():
        for key, setting in vocabulary.settings.items():
            if key in declared:
                raise ValueError(f"{key} is declared twice (vocabulary {vocabulary.name})")
            declared[key] = setting
    return declared


def markdown() -> str:
    return settings.reference_markdown(vocabularies())


if __name__ == "__main__":
    print(markdown(), end="")
