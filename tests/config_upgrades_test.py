"""An older workdir's config.json is brought up to date in one place
(fewgen_tf/config_upgrades.py): added keys read as the behaviour those runs had, removed
options are dropped, and a run recorded with a removed option's other value is refused."""

import json

import pytest

from fewgen_tf import config_upgrades, workdir
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.cola.config import add_cola


def _tree(config):
    return json.loads(config.to_json_best_effort())


def test_added_keys_read_as_the_behaviour_of_older_runs():
    tree = _tree(add_meta_learning(base_config(), "maml"))
    del tree["meta"]["head_init"], tree["meta"]["transductive_steps"]
    upgraded = config_upgrades.upgrade(tree)
    assert upgraded["meta"]["head_init"] == "auto"
    assert upgraded["meta"]["transductive_steps"] == 0
    assert "head_init" not in tree["meta"]  # a copy
    assert "augintae" not in upgraded  # only sections the run had


def test_removed_options_are_dropped_at_the_kept_value_and_refused_otherwise(tmp_path):
    tree = _tree(add_meta_learning(base_config()))
    tree["meta"]["test_shifts"] = 0
    assert "test_shifts" not in config_upgrades.upgrade(tree)["meta"]
    tree["meta"]["test_shifts"] = 2
    with pytest.raises(ConfigError, match=r"meta.test_shifts = 2, an option since removed"):
        config_upgrades.upgrade(tree, "old/config.json")
    # the same through a resume: refused, one line naming the key
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(tree))
    with pytest.raises(ConfigError, match="meta.test_shifts = 2"):
        workdir.check_resumable(str(tmp_path), add_meta_learning(base_config()))


def test_a_cola_run_from_before_assign_embedding_is_told_from_one_after_its_removal():
    new = _tree(add_cola(base_config()))
    assert "assign_embedding" not in new["cola"]
    assert config_upgrades.upgrade(new)["cola"] == new["cola"]  # written after the removal
    old = json.loads(json.dumps(new))
    del old["cola"]["rotnet"]  # arrived with assign_embedding: this run predates both
    with pytest.raises(ConfigError, match="cola.assign_embedding = 'training'"):
        config_upgrades.upgrade(old)
    old["cola"]["assign_embedding"] = "inference"
    old["cola"]["assign_scope"], old["cola"]["assign_chunk"] = "batch", 500
    upgraded = config_upgrades.upgrade(old)
    assert upgraded["cola"]["rotnet"] is True
    assert not {"assign_embedding", "assign_scope", "assign_chunk"} & set(upgraded["cola"])
