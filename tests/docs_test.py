"""The README and the guides under docs/ stay true to the code and to each other.

- every `configs/FILE.py[:VARIANT]` they name (in a `--config=` flag or in prose) is a
  config file whose `get_config(VARIANT)` loads;
- every `--config.KEY=VALUE` override they show names a declared key
  (`fewgen_tf.config_reference.declarations()`), and, in a command that names one config,
  a key that config has;
- README.md is a front door of at most 150 lines, none over 200 characters;
- every relative link points to a file that exists (and a `#section` of a markdown file
  to one of its headings).

Placeholders in capitals (`configs/FILE.py[:VARIANT]`, `--config.KEY=VALUE`) are not
checked. docs/bad_input.md shows some wrong commands on purpose (the error each one gets);
those are listed below, and the test checks that they are indeed wrong.
"""

import functools
import re

import pytest

from conftest import REPO_ROOT, config_module

README_MAX_LINES = 150
README_MAX_WIDTH = 200
DOCS = [REPO_ROOT / "README.md"] + sorted((REPO_ROOT / "docs").glob("*.md"))

# docs/bad_input.md: mentions that show an error message, so must NOT load / be declared.
DELIBERATELY_WRONG_CONFIGS = {"configs/x.py", "configs/no_such_file.py",
                              "configs/augintae_omniglot.py:typo"}
DELIBERATELY_WRONG_KEYS = {"meta.nosuch.x", "meta.iterations.x"}
BAD_INPUT = REPO_ROOT / "docs" / "bad_input.md"

_CONFIG = re.compile(r"configs/([A-Za-z0-9_]+)\.py(?::([A-Za-z0-9_]+))?")
_CONFIG_FLAG = re.compile(r"--config=configs/([A-Za-z0-9_]+)\.py(?::([A-Za-z0-9_]+))?")
_OVERRIDE = re.compile(r"--config\.([A-Za-z_][A-Za-z0-9_.]*)=")
_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _placeholder(name: str) -> bool:
    return name.isupper()


def _relative(path):
    return str(path.relative_to(REPO_ROOT))


@functools.lru_cache(maxsize=None)
def _load(name: str, variant):
    """The config `configs/NAME.py[:VARIANT]`, or the exception loading it raised."""
    try:
        module = config_module(name)
        return module.get_config(variant) if variant else module.get_config()
    except Exception as e:  # noqa: BLE001 (reported by the test)
        return e


@functools.lru_cache(maxsize=None)
def _declared():
    from fewgen_tf.config_reference import declarations

    return frozenset(declarations())


def _has_key(config, key: str) -> bool:
    node = config
    for part in key.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError, AttributeError):
            return False
    return True


def _commands(text: str):
    """The code of a document: each logical line of its fenced blocks (backslash
    continuations joined) and each inline code span (which may wrap)."""
    found = []
    for block in _FENCE.findall(text):
        body = block.split("\n", 1)[1].rsplit("```", 1)[0]
        found += body.replace("\\\n", " ").splitlines()
    found += _INLINE_CODE.findall(_FENCE.sub("", text))
    return found


def _mentions(path):
    """(`configs/NAME.py[:VARIANT]` as written, name, variant) of every concrete mention."""
    for match in _CONFIG.finditer(path.read_text()):
        name, variant = match.group(1), match.group(2)
        if _placeholder(name):
            continue
        yield match.group(0), name, None if variant is None or _placeholder(variant) else variant


@pytest.mark.parametrize("path", DOCS, ids=_relative)
def test_every_named_config_and_variant_loads(path):
    broken = []
    for written, name, variant in _mentions(path):
        if path == BAD_INPUT and written in DELIBERATELY_WRONG_CONFIGS:
            continue
        loaded = _load(name, variant)
        if isinstance(loaded, Exception):
            broken.append(f"{written}: {type(loaded).__name__}: {loaded}")
    assert not broken, f"{_relative(path)} names configs that do not load:\n" + "\n".join(
        sorted(set(broken)))


@pytest.mark.parametrize("path", DOCS, ids=_relative)
def test_every_override_names_a_declared_key(path):
    wrong = []
    for key in _OVERRIDE.findall(path.read_text()):
        if _placeholder(key) or (path == BAD_INPUT and key in DELIBERATELY_WRONG_KEYS):
            continue
        if key not in _declared():
            wrong.append(key)
    assert not wrong, (f"{_relative(path)} overrides keys that no vocabulary declares "
                       f"(docs/config.md lists them): {sorted(set(wrong))}")


@pytest.mark.parametrize("path", DOCS, ids=_relative)
def test_a_commands_overrides_are_keys_of_its_config(path):
    wrong = []
    for command in _commands(path.read_text()):
        flags = [(n, v) for n, v in _CONFIG_FLAG.findall(command) if not _placeholder(n)]
        if len(flags) != 1:
            continue
        name, variant = flags[0]
        config = _load(name, variant if variant and not _placeholder(variant) else None)
        if isinstance(config, Exception):
            continue  # reported by test_every_named_config_and_variant_loads
        for key in _OVERRIDE.findall(command):
            if not _placeholder(key) and not _has_key(config, key):
                wrong.append(f"configs/{name}.py{':' + variant if variant else ''} has no {key}")
    assert not wrong, f"{_relative(path)}: " + "; ".join(sorted(set(wrong)))


def test_the_deliberately_wrong_examples_are_wrong():
    text = BAD_INPUT.read_text()
    for written in DELIBERATELY_WRONG_CONFIGS:
        assert written in text, f"{written} is no longer in docs/bad_input.md: drop it here"
        name, _, variant = written[len("configs/"):].partition(":")
        assert isinstance(_load(name[:-len(".py")], variant or None), Exception), written
    for key in DELIBERATELY_WRONG_KEYS:
        assert f"--config.{key}" in text, f"{key} is no longer in docs/bad_input.md"
        assert key not in _declared(), key


def test_readme_is_a_front_door():
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail into docs/")
    long = [i + 1 for i, line in enumerate(lines) if len(line) > README_MAX_WIDTH]
    assert not long, f"README.md lines {long} are over {README_MAX_WIDTH} characters"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@functools.lru_cache(maxsize=None)
def _anchors(path) -> frozenset:
    seen, anchors = {}, set()
    for line in _FENCE.sub("", path.read_text()).splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            slug = _slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(anchors)


@pytest.mark.parametrize("path", DOCS, ids=_relative)
def test_every_relative_link_points_to_a_file_that_exists(path):
    broken = []
    for target in _LINK.findall(_FENCE.sub("", path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no file {linked})")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target} (no heading '#{anchor}' in {linked.name})")
    assert not broken, f"{_relative(path)} has broken links: {broken}"
