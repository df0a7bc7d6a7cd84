"""LASIUM's anchors and in-class strategies on fixed latents."""

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf.errors import ConfigError
from fewgen_tf.lasium import strategies


def test_strategy_maths_on_fixed_latents():
    anchors = tf.constant([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    noise = tf.constant(np.ones((3, 2, 2), np.float32))
    # n: z + sigma * e with sigma^2 = 0.25.
    np.testing.assert_allclose(strategies.add_noise(anchors, noise, 0.25).numpy(),
                               np.repeat(anchors.numpy()[:, None] + 0.5, 2, axis=1))
    # ro: z + alpha (u - z).
    u = tf.constant(np.full((3, 2, 2), 10.0, np.float32))
    np.testing.assert_allclose(strategies.toward_random(anchors, u, 0.2).numpy(),
                               np.repeat(0.8 * anchors.numpy()[:, None] + 2.0, 2, axis=1))
    # oc: z_j + alpha (z_o - z_j) toward the named other anchors.
    other = tf.constant([[1, 2], [0, 2], [0, 1]])
    got = strategies.toward_other_class(anchors, other, 0.5).numpy()
    np.testing.assert_allclose(got[0], [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(got[2], [[0.0, 2.0], [1.0, 2.0]])


@pytest.mark.parametrize("ways", [2, 3, 5, 20])
def test_other_class_indices_for_any_n(ways):
    index = strategies.other_class_indices(tf.constant([1, 2], tf.int64), ways, 500).numpy()
    assert index.shape == (ways, 500)
    assert np.all(index != np.arange(ways)[:, None]) and index.min() >= 0
    assert index.max() < ways
    if ways > 2:  # every other class is used
        assert all(len(set(index[j])) == ways - 1 for j in range(ways))


def test_in_class_latents_and_task_layout_are_seeded():
    anchors = tf.random.stateless_normal([4, 8], seed=[0, 1])
    seed = tf.constant([3, 4], tf.int64)
    for strategy in strategies.STRATEGIES:
        a = strategies.task_latents(strategy, anchors, 2, 3, seed, variance=0.5, alpha=0.2)
        b = strategies.task_latents(strategy, anchors, 2, 3, seed, variance=0.5, alpha=0.2)
        assert a.shape == (4, 5, 8)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(a[:, 0].numpy(), anchors.numpy())  # anchor first
    n = strategies.in_class_latents("n", anchors, 4000, seed, variance=0.5) - anchors[:, None]
    assert abs(float(tf.math.reduce_variance(n)) - 0.5) < 0.02
    with pytest.raises(ConfigError, match="unknown lasium.strategy 'x'"):
        strategies.in_class_latents("x", anchors, 1, seed)


def test_anchor_rejection_counts_resamples_and_fails_at_the_cap():
    seed = tf.constant([7, 7], tf.int64)
    anchors, resamples = strategies.sample_anchors(seed, 5, 128, epsilon=0.0)
    assert anchors.shape == (5, 128) and int(resamples) == 0
    # Mean pairwise squared distance is 2 * 128 = 256: a threshold of 240 needs redraws.
    anchors, resamples = strategies.sample_anchors(seed, 5, 128, epsilon=240.0)
    assert float(strategies.min_pairwise_squared_distance(anchors)) > 240.0
    assert int(resamples) > 0
    distances = strategies.pairwise_squared_distances(anchors).numpy()
    brute = ((anchors.numpy()[:, None] - anchors.numpy()[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances, brute, rtol=1e-4, atol=1e-3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="lower lasium.epsilon"):
        strategies.sample_anchors(seed, 5, 128, epsilon=400.0, max_resamples=20)
