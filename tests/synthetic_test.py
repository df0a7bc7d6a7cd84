"""The built-in synthetic glyph dataset: determined by its seed, glyph-like, class-structured."""

import numpy as np

from fewgen_tf.data import synthetic


def test_determined_by_seed():
    a = synthetic.make_synthetic(6, 5, 28, seed=3)
    b = synthetic.make_synthetic(6, 5, 28, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    c = synthetic.make_synthetic(6, 5, 28, seed=4)
    assert np.abs(a.images - c.images).mean() > 0.05
    # A class does not depend on how many classes are made.
    more = synthetic.make_synthetic(9, 5, 28, seed=3)
    np.testing.assert_array_equal(more.images[:30], a.images)


def test_shapes_range_and_white_background():
    d = synthetic.make_synthetic(4, 3, 32, seed=0)
    assert d.images.shape == (12, 32, 32, 1) and d.images.dtype == np.float32
    assert d.images.min() >= 0.0 and d.images.max() == 1.0
    corners = d.images[:, :2, :2]
    assert np.all(corners == 1.0)
    ink = (d.images < 0.5).mean(axis=(1, 2, 3))
    assert np.all(ink > 0.02) and np.all(ink < 0.4)


def test_instances_are_closer_within_a_class_than_across():
    d = synthetic.make_synthetic(20, 10, 28, seed=1)
    x = d.images.reshape(20, 10, -1)
    within = np.mean([np.abs(x[c, :, None] - x[c, None]).mean() for c in range(20)])
    across = np.mean([np.abs(x[c, :, None] - x[(c + 1) % 20, None]).mean() for c in range(20)])
    assert within < 0.75 * across
    # Instances are re-drawings, not copies.
    assert np.all(np.abs(x[:, 0] - x[:, 1]).mean(-1) > 0.005)
