"""Every setting is declared once (default, rule, doc), every shipped key is declared,
and docs/config.md is the reference generated from the declarations."""

import ml_collections
import pytest

from conftest import REPO_ROOT, all_configs
from fewgen_tf import config_reference, settings
from fewgen_tf.errors import ConfigError


def _leaf_keys(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_every_leaf_key_of_every_shipped_config_is_declared():
    declared = config_reference.declarations()
    missing = {}
    for name, config in all_configs():
        for key in _leaf_keys(config.to_dict()):
            if key not in declared:
                missing.setdefault(key, name)
    assert not missing, f"keys without a declaration (first config using each): {missing}"


def test_every_declaration_has_a_doc_and_a_rule_that_accepts_its_default():
    for key, setting in config_reference.declarations().items():
        assert setting.doc.strip(), key
        assert isinstance(setting.rule, settings.Rule) and setting.rule.text, key
        setting.rule(key, setting.value())


def test_the_generated_reference_is_current():
    path = REPO_ROOT / "docs" / "config.md"
    assert path.read_text() == config_reference.markdown(), (
        "docs/config.md is stale: python -m fewgen_tf.config_reference > docs/config.md")


def test_a_vocabulary_refuses_a_key_twice_and_an_unknown_override():
    rule = settings.integer(0)
    with pytest.raises(ValueError, match="twice"):
        settings.Vocabulary("v", "doc", [settings.Setting("a.b", 1, rule, "x"),
                                         settings.Setting("a.b", 2, rule, "y")])
    vocabulary = settings.Vocabulary("v", "doc", [settings.Setting("a.b", 1, rule, "x")])
    with pytest.raises(KeyError, match="a.c"):
        vocabulary.add_to(ml_collections.ConfigDict(), {"a.c": 2})
    config = vocabulary.add_to(ml_collections.ConfigDict(), {"a.b": 3})
    assert config.a.b == 3
    config.a.b = -1
    with pytest.raises(ConfigError, match=r"a\.b must be an int >= 0, got -1"):
        vocabulary.check(config)


def test_a_default_read_from_the_environment_is_read_when_a_config_is_made(monkeypatch):
    from fewgen_tf.config import base_config

    monkeypatch.setenv("FEWGEN_DATA_DIR", "/some/where")
    assert base_config().data.root == "/some/where"
    monkeypatch.delenv("FEWGEN_DATA_DIR")
    assert base_config().data.root == ""
