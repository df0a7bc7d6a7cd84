"""N-way K-shot episodes: shapes, labels, disjointness, determinism, tf.data, errors."""

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf.data import episodes, registry
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError


@pytest.fixture(scope="module")
def parts():
    from fewgen_tf.config import base_config

    config = base_config()
    config.data.num_classes = 30
    config.data.images_per_class = 12
    return registry.load_splits(config.data)


def _image_keys(images):
    return [im.tobytes() for im in images]


def test_episode_shapes_labels_and_disjoint_support_query(parts):
    test = parts["test"]
    e = episodes.sample_episode(test, ways=5, shots=2, queries=3, seed=42, stream="test", index=0)
    assert e["support_images"].shape == (10, 28, 28, 1)
    assert e["query_images"].shape == (15, 28, 28, 1)
    assert e["support_labels"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert e["query_labels"].tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert e["support_labels"].dtype == np.int32
    plan = episodes.episode_plan(test, 5, 2, 3, 42, "test", 0)
    assert len(set(plan.reshape(-1).tolist())) == 25  # no image twice: support/query disjoint
    classes = test.labels[plan]
    assert np.all(classes == classes[:, :1]) and len(set(classes[:, 0])) == 5


def test_classes_come_only_from_the_requested_split(parts):
    train_images = set(_image_keys(parts["train"].images))
    test_images = set(_image_keys(parts["test"].images))
    for i in range(20):
        e = episodes.sample_episode(parts["test"], 5, 1, 2, 42, "test", i)
        keys = set(_image_keys(np.concatenate([e["support_images"], e["query_images"]])))
        assert keys <= test_images and not keys & train_images


def test_label_order_is_random(parts):
    test = parts["test"]
    first_class = [test.labels[episodes.episode_plan(test, 5, 1, 1, 0, "test", i)[0, 0]]
                   for i in range(60)]
    assert len(set(first_class)) >= 5  # label 0 is not always the same or the lowest class


def test_evaluation_episodes_are_fixed_and_independent_of_earlier_draws(parts):
    test = parts["test"]
    full = list(episodes.episode_dataset(test, 5, 1, 3, seed=42, stream="test", num_episodes=8))
    late = list(episodes.episode_dataset(test, 5, 1, 3, seed=42, stream="test", start=5,
                                         num_episodes=3))
    for a, b in zip(full[5:], late):
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    # The tf.data episode equals the numpy one; another seed gives other episodes.
    numpy_episode = episodes.sample_episode(test, 5, 1, 3, 42, "test", 6)
    np.testing.assert_array_equal(full[6]["query_images"].numpy(), numpy_episode["query_images"])
    other = episodes.sample_episode(test, 5, 1, 3, 43, "test", 6)
    assert not np.array_equal(other["query_images"], numpy_episode["query_images"])


def test_endless_training_stream_with_meta_batch_axis(parts):
    train = parts["train"]
    ds = episodes.episode_dataset(train, 5, 1, 2, seed=0, stream="train", meta_batch_size=4)
    spec = ds.element_spec
    assert spec["support_images"].shape == (4, 5, 28, 28, 1)
    assert spec["query_labels"].shape == (4, 10) and spec["query_labels"].dtype == tf.int32
    batches = list(ds.take(40))  # 160 episodes: crosses the 64-plan chunk boundary twice
    assert len(batches) == 40
    # Episode 4*17+2 of the stream, drawn alone, is the same as in the batched stream.
    alone = episodes.sample_episode(train, 5, 1, 2, 0, "train", 70)
    np.testing.assert_array_equal(batches[17]["support_images"][2].numpy(),
                                  alone["support_images"])
    resumed = next(iter(episodes.episode_dataset(train, 5, 1, 2, 0, "train", start=68,
                                                 meta_batch_size=4)))
    np.testing.assert_array_equal(resumed["query_images"].numpy(),
                                  batches[17]["query_images"].numpy())


def test_too_few_classes_or_images_fail_clearly(parts):
    with pytest.raises(DataError, match=r"has 6 classes, fewer than ways=7"):
        episodes.episode_dataset(parts["test"], 7, 1, 1, 0, "test", num_episodes=1)
    with pytest.raises(DataError, match=r"class 'glyph\d+' has 12 images, fewer than "
                                        r"shots \+ queries = 5 \+ 8"):
        episodes.sample_episode(parts["test"], 5, 5, 8, 0, "test", 0)
    uneven = ClassDataset.from_class_arrays(
        "uneven", [np.zeros((n, 4, 4, 1), np.float32) for n in (5, 2, 5)], ["a", "b", "c"])
    with pytest.raises(DataError, match=r"class 'b' has 2 images.*\(1 class\(es\) this small\)"):
        episodes.check_episode_request(uneven, 3, 1, 2)
    with pytest.raises(DataError, match="shots must be an int >= 1"):
        episodes.check_episode_request(uneven, 3, 0, 2)
