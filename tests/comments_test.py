"""Comments and docstrings stay inside the repository and short (issue 41): no file cites
notes kept outside it (what the code takes from reference implementations is stated in
the project's own words), module docstrings give the why in at most 25 lines (numbers
live in benchmarks/RESULTS.md), and every repository path a comment names exists.

Each check is a plain function over text, so the tests below can show that it fails on a
planted case before asserting that the repository passes it."""

import ast
import io
import os
import re
import subprocess
import tokenize

from conftest import REPO_ROOT

MAX_MODULE_DOCSTRING_LINES = 25
DOCSTRING_DIRS = ("fewgen_tf", "configs", "benchmarks", "experiments", "tools")
PATH_DIRS = ("fewgen_tf", "configs", "benchmarks", "experiments", "tools", "tests", "export")

# Notes and papers' texts that live beside the repository, not in it. Built from pieces so
# that this file does not match its own patterns. ../shared/data is where users' data
# lives (FEWGEN_DATA_DIR's default): naming it is fine.
_OUTSIDE = re.compile("|".join([
    "REFERENCE" + "_NOTES",
    "DESIGN" + r"\.md",
    r"(?<![\w.])\.\./" + "shared" + r"(?!/data\b)",
    r"/work/" + "shared" + r"(?!/data\b)",
]))
# A repository path in prose: a top-level folder, then folders, then a .py file.
_REPO_PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w/]*\.py)\b" % "|".join(PATH_DIRS))


def _tracked_files():
    """Repository-relative paths of the tracked files (every file when there is no git,
    e.g. in a Bazel sandbox)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True,
                             capture_output=True).stdout
        names = [n for n in out.decode().split("\0") if n]
        if names:
            return sorted(n for n in names if (REPO_ROOT / n).is_file())
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for folder, subfolders, files in os.walk(REPO_ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")
                         and d != "__pycache__" and not d.endswith(".egg-info")]
        found += [os.path.relpath(os.path.join(folder, f), REPO_ROOT) for f in files]
    return sorted(found)


def _text(path):
    """The file's text, or None for a binary file."""
    data = (REPO_ROOT / path).read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def outside_citations(text):
    """[(line number, line)] of the lines that cite a file outside the repository."""
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1)
            if _OUTSIDE.search(line)]


def module_docstring_lines(source):
    """The number of lines of the module docstring (0 without one)."""
    docstring = ast.get_docstring(ast.parse(source))
    return len(docstring.splitlines()) if docstring else 0


def _prose(source):
    """[(line number, text)] of a Python source's comments and docstrings (module, class
    and function docstrings, and any other string standing alone as a statement)."""
    found = [(t.start[0], t.string) for t in
             tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            found.append((node.lineno, node.value.value))
    return found


def missing_paths(source, exists):
    """[(line number, path)] of the repository .py paths named in the source's comments
    and docstrings for which `exists(path)` is false. A path with an upper-case
    placeholder segment (configs/NAME.py) names no file and is not checked."""
    missing = []
    for line, text in _prose(source):
        for path in _REPO_PATH.findall(text):
            placeholder = any(part.isupper() for part in re.split(r"[/.]", path))
            if not placeholder and not exists(path):
                missing.append((line, path))
    return missing


def _exists(path):
    return (REPO_ROOT / path).is_file()


def _python_files(dirs):
    return [p for p in _tracked_files() if p.endswith(".py") and p.split("/")[0] in dirs]


# ------------------------------------------------------------------ the checks can fail
def test_the_checks_catch_planted_cases():
    notes = "REFERENCE" + "_NOTES.md"
    planted = (f"x = 1  # as in {notes}\n"
               f"see ../{'shared'}/papers/000.txt and ../{'shared'}/data/omniglot\n"
               f"DESIGN{'.md'} says so\n")
    assert [line for line, _ in outside_citations(planted)] == [1, 2, 3]
    assert outside_citations(f"FEWGEN_DATA_DIR=../{'shared'}/data python x.py") == []

    long_doc = '"""' + "\n".join(f"line {i}" for i in range(26)) + '"""\n'
    assert module_docstring_lines(long_doc) == 26 > MAX_MODULE_DOCSTRING_LINES
    assert module_docstring_lines('"""One line."""\nx = 1\n') == 1

    source = ('"""Uses fewgen_tf/nets/layers.py and fewgen_tf/meta/layers.py."""\n'
              "x = 1  # see benchmarks/anyway_head.py, configs/NAME.py\n"
              'y = "fewgen_tf/not/a/comment.py"\n')
    assert sorted(missing_paths(source, _exists)) == [(1, "fewgen_tf/meta/layers.py"),
                                                      (2, "benchmarks/anyway_head.py")]


# ------------------------------------------------------------------ the repository
def test_no_tracked_file_cites_a_file_outside_the_repository():
    found = []
    for path in _tracked_files():
        text = _text(path)
        if text is not None:
            found += [f"{path}:{line}: {content}" for line, content in outside_citations(text)]
    assert not found, ("state the fact in the project's own words instead of citing notes "
                       "outside the repository:\n" + "\n".join(found))


def test_module_docstrings_are_short():
    long = []
    for path in _python_files(DOCSTRING_DIRS):
        lines = module_docstring_lines((REPO_ROOT / path).read_text())
        if lines > MAX_MODULE_DOCSTRING_LINES:
            long.append(f"{path}: {lines} lines")
    assert not long, (f"module docstrings over {MAX_MODULE_DOCSTRING_LINES} lines (keep the "
                      "why; numbers go to benchmarks/RESULTS.md, details to the functions "
                      "they describe):\n" + "\n".join(long))


def test_repository_paths_in_comments_exist():
    stale = []
    for path in _python_files(PATH_DIRS):
        stale += [f"{path}:{line}: {name}" for line, name in
                  missing_paths((REPO_ROOT / path).read_text(), _exists)]
    assert not stale, "comments or docstrings name files that do not exist:\n" + "\n".join(stale)
