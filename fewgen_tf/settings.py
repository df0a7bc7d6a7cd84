"""One declaration per setting: its dotted key, default, rule and a one-line doc.

A vocabulary (`Vocabulary`: the keys one `add_*` function of a config module creates) is
a list of `Setting`s. Everything else about a key comes from that one declaration: the
ml_collections defaults (`Vocabulary.add_to`), the start-up validation
(`Vocabulary.check`, the same rule wherever a value is checked: `Vocabulary.rule`) and
the generated config reference (`reference_markdown`, docs/config.md). What spans several
keys (e.g. a head that must match the number of ways) is a `check_*` function beside the
vocabulary. A rule is a `Rule`: a callable `(key, value)` raising one ConfigError that
names the key, the value and what is valid, with a short text for the reference.
Nothing here imports TensorFlow.
"""

import dataclasses
import math
import numbers
from typing import Any, Callable, Optional, Sequence

import ml_collections

from fewgen_tf.errors import ConfigError


# ------------------------------------------------------------------------------ rules
@dataclasses.dataclass(frozen=True)
class Rule:
    """`check(key, value)` raises ConfigError for a bad value; `text` says what is valid."""
    check: Callable[[str, Any], None]
    text: str

    def __call__(self, key, value):
        self.check(key, value)


def _bounds(low, high, low_open=False, high_open=False):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return (" " + " and ".join(parts)) if parts else ""


def _within(value, low, high, low_open, high_open):
    return ((low is None or value > low or (value == low and not low_open))
            and (high is None or value < high or (value == high and not high_open)))


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def integer(low=None, high=None, note=""):
    """An int (not a bool) in [low, high]; `note` says what a special value means."""
    def check(key, value):
        if not _is_integer(value) or not _within(value, low, high, False, False):
            raise ConfigError(f"{key} must be an int{_bounds(low, high)}"
                              f"{f' ({note})' if note else ''}, got {value!r}")
    return Rule(check, f"int{_bounds(low, high)}{f' ({note})' if note else ''}")


def number(low=None, high=None, low_open=False, high_open=False):
    """A finite int or float within the bounds (`*_open`: the bound excluded)."""
    def check(key, value):
        if not _is_number(value) or not _within(value, low, high, low_open, high_open):
            raise ConfigError(f"{key} must be a number{_bounds(low, high, low_open, high_open)}"
                              f", got {value!r}")
    return Rule(check, f"number{_bounds(low, high, low_open, high_open)}")


POSITIVE = number(0, low_open=True)  # learning rates, widths, epsilons


def one_of(valid):
    """One of the names `valid` (listed in this order in the message)."""
    valid = tuple(valid)

    def check(key, value):
        if value not in valid:
            raise ConfigError(f"unknown {key} {value!r}; valid: {', '.join(valid)}")
    return Rule(check, "one of " + ", ".join(f"`{v}`" for v in valid))


def boolean():
    def check(key, value):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be True or False, got {value!r}")
    return Rule(check, "True or False")


def text(note=""):
    """A string; `note` says what it names and where its value is judged."""
    def check(key, value):
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string{f' ({note})' if note else ''}, "
                              f"got {value!r}")
    return Rule(check, f"string{f' ({note})' if note else ''}")


def checked_by(check: Callable[[str, Any], None], description: str):
    """A rule whose check is a function of the key and value written elsewhere (e.g. an
    augmentation range, whose parser is its check)."""
    return Rule(check, description)






# ------------------------------------------------------------------- declarations
@dataclasses.dataclass(frozen=True)
class Setting:
    """One key. `default` may be a function of nothing, called when a config is made (a
    default read from the environment); `default_text` then shows it in the reference."""
    key: str
    default: Any
    rule: Rule
    doc: str
    default_text: Optional[str] = None

    def value(self):
        return self.default() if callable(self.default) else self.default


class Vocabulary:
    """The settings one `add_*` function creates, in the order it creates them."""

    def __init__(self, name: str, doc: str, settings: Sequence[Setting]):
        self.name, self.doc = name, doc
        self.settings = {s.key: s for s in settings}
        if len(self.settings) != len(settings):
            raise ValueError(f"vocabulary {name} declares a key twice")

    def add_to(self, config: ml_collections.ConfigDict, overrides=None):
        """Create every key of this vocabulary in `config` with its default, or with
        `overrides[key]` (an add_* function's argument-dependent values); sections are
        created as needed."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(self.settings)
        if unknown:
            raise KeyError(f"{self.name} declares no {', '.join(sorted(unknown))}")
        for key, setting in self.settings.items():
            *sections, leaf = key.split(".")
            node = config
            for section in sections:
                if section not in node:
                    node[section] = ml_collections.ConfigDict()
                node = node[section]
            node[leaf] = overrides[key] if key in overrides else setting.value()
        return config

    def rule(self, key: str) -> Rule:
        return self.settings[key].rule

    def check(self, config) -> None:
        """Every rule of this vocabulary on the keys `config` has."""
        for key, setting in self.settings.items():
            found, value = lookup(config, key)
            if found:
                setting.rule(key, value)


def lookup(config, key):
    """(found, value) of the dotted `key` in `config` (a ConfigDict or dict)."""
    node = config
    for part in key.split("."):
        if not hasattr(node, "keys") or part not in node:
            return False, None
        node = node[part]
    return True, node




# ---------------------------------------------------------------------- reference
def _default_text(setting):
    if setting.default_text is not None:
        return setting.default_text
    value = setting.value()
    return f"`{value!r}`"


def reference_markdown(vocabularies) -> str:
    """The config reference: one table per vocabulary, every key with its default, what
    is valid and its doc (docs/config.md is this text; tests/settings_test.py checks)."""
    lines = ["# Config reference", "",
             "Generated from the settings' declarations (`fewgen_tf/settings.py`); do not "
             "edit by hand: `python -m fewgen_tf.config_reference > docs/config.md`.",
             "A command-line override is `--config.KEY=VALUE`; every key below is checked "
             "by its rule before anything is read, trained or written.", ""]
    for vocabulary in vocabularies:
        lines += [f"## {vocabulary.name}", "", vocabulary.doc, "",
                  "| key | default | valid | what it is |", "| --- | --- | --- | --- |"]
        for key, s in vocabulary.settings.items():
            doc = s.doc.replace("|", "\\|")
            valid = s.rule.text.replace("|", "\\|")
            lines.append(f"| `{key}` | {_default_text(s).replace('|', chr(92) + '|')} "
                         f"| {valid} | {doc} |")
        lines.append("")
    return "\n".join(lines)
