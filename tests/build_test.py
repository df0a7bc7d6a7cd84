"""BUILD stays in sync with the tree: every Python file is named by exactly one target,
every test file is its own py_test, and no target names a file that does not exist."""

import collections
import re

from conftest import REPO_ROOT

_TARGET = re.compile(r"^(py_\w+)\(\s*\n(.*?)^\)", re.S | re.M)
_NAME = re.compile(r'name\s*=\s*"([^"]+)"')
_SRCS = re.compile(r"srcs\s*=\s*(glob\()?\[(.*?)\](?:,\s*exclude\s*=\s*\[(.*?)\])?", re.S)
_DIRS = ("fewgen_tf", "configs", "tests", "benchmarks", "experiments", "tools", "export")


def _targets():
    text = (REPO_ROOT / "BUILD").read_text()
    targets = []
    for kind, body in _TARGET.findall(text):
        found = _SRCS.search(body)
        srcs = re.findall(r'"([^"]+)"', found.group(2)) if found else []
        if found and found.group(1):  # glob([patterns], exclude = [files]), as Bazel expands it
            excluded = set(re.findall(r'"([^"]+)"', found.group(3) or ""))
            srcs = sorted({str(p.relative_to(REPO_ROOT)) for pattern in srcs
                           for p in REPO_ROOT.glob(pattern)} - excluded)
        targets.append((kind, _NAME.search(body).group(1), srcs))
    return targets


def test_every_python_file_is_named_by_exactly_one_target():
    owners = collections.defaultdict(list)
    for _, name, srcs in _targets():
        for src in srcs:
            owners[src].append(name)
    on_disk = {str(p.relative_to(REPO_ROOT)) for d in _DIRS for p in (REPO_ROOT / d).rglob("*.py")}
    missing = sorted(on_disk - set(owners))
    assert not missing, f"add these files to a BUILD target: {missing}"
    stale = sorted(set(owners) - on_disk)
    assert not stale, f"BUILD names files that do not exist: {stale}"
    twice = {src: names for src, names in owners.items() if len(names) > 1}
    assert not twice, f"files named by more than one target: {twice}"


def test_each_test_file_is_its_own_py_test():
    tests = {name: srcs for kind, name, srcs in _targets() if kind == "py_test"}
    for path in (REPO_ROOT / "tests").glob("*_test.py"):
        assert tests.get(path.stem) == [f"tests/{path.name}"], f"py_test for {path.name}"
    binaries = [srcs for kind, _, srcs in _targets() if kind == "py_binary"]
    assert ["fewgen_tf/main.py"] in binaries
