"""Generic class splits and the dataset registry's config errors."""

import pytest

from fewgen_tf.config import base_config
from fewgen_tf.data import registry, splits, synthetic
from fewgen_tf.errors import ConfigError, DataError


def test_random_split_fractions_counts_and_seed():
    d = synthetic.make_synthetic(20, 2, 16, seed=0)
    parts = splits.random_split(d, (0.5, 0.25, 0.25), seed=0)
    assert [parts[p].num_classes for p in splits.PARTS] == [10, 5, 5]
    keys = [set(parts[p].class_keys) for p in splits.PARTS]
    assert set().union(*keys) == set(range(20)) and sum(map(len, keys)) == 20
    counted = splits.random_split(d, (12, 3, 2), seed=0)
    assert [counted[p].num_classes for p in splits.PARTS] == [12, 3, 2]
    assert splits.random_split(d, (0.5, 0.25, 0.25), seed=1)["test"].class_keys != \
        parts["test"].class_keys
    with pytest.raises(DataError, match="asks for 30 classes; the dataset has 20"):
        splits.random_split(d, (20, 5, 5))
    with pytest.raises(ConfigError, match="counts or fractions summing to 1"):
        splits.random_split(d, (0.5, 0.2, 0.2))


def test_registry_rejects_unknown_names_and_inapplicable_splits():
    config = base_config()
    config.data.name = "imagenet"
    with pytest.raises(ConfigError, match="unknown data.name 'imagenet'; valid: cifar10, cifar100, "
                                          "folder, mnist, omniglot, synthetic"):
        registry.load_splits(config.data)
    config.data.name = "synthetic"
    config.data.num_classes = 10
    config.data.split = "lasium"
    with pytest.raises(ConfigError, match="data.split 'lasium' does not apply to synthetic; "
                                          "valid: random, all"):
        registry.load_splits(config.data)
    config.data.split = "all"
    parts = registry.load_splits(config.data)
    assert parts["train"] is parts["test"] and parts["test"].num_classes == 10
