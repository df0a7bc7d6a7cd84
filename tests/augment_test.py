"""Interpolable augmentation (fewgen_tf/data/augment.py) against hand results."""

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf.config import add_augmentation, base_config
from fewgen_tf.data import augment as aug
from fewgen_tf.errors import ConfigError


def params(batch_size=1, **values):
    """Identity parameters with some replaced by per-image lists."""
    p = aug.identity_parameters(batch_size)
    p.update({k: tf.constant(np.broadcast_to(np.float32(v), [batch_size]))
              for k, v in values.items()})
    return p


def run(image_hw, fill="white", **values):
    """Apply to one grey HxW image; return HxW."""
    x = np.asarray(image_hw, np.float32)[None, :, :, None]
    return aug.apply(x, params(1, **values), fill).numpy()[0, :, :, 0]


def asymmetric(n):
    return np.arange(n * n, dtype=np.float32).reshape(n, n) / (n * n)


def lit(n, row, col):
    """One ink pixel (0.0) on white (1.0), the character contract."""
    x = np.ones((n, n), np.float32)
    x[row, col] = 0.0
    return x


def test_identity_parameters_return_the_image():
    rng = np.random.default_rng(0)
    for channels in (1, 3):
        x = rng.uniform(size=(2, 6, 7, channels)).astype(np.float32)
        np.testing.assert_allclose(aug.apply(x, aug.identity_parameters(2)), x, atol=1e-5)
        np.testing.assert_allclose(aug.apply(x, aug.identity_parameters(2), "symmetric"), x,
                                   atol=1e-5)


@pytest.mark.parametrize("n", [4, 5])
def test_rotation_by_90_degrees_is_rot90(n):
    x = asymmetric(n)
    np.testing.assert_allclose(run(x, rotation=90.0), np.rot90(x, k=1), atol=1e-5)
    np.testing.assert_allclose(run(x, rotation=-90.0), np.rot90(x, k=-1), atol=1e-5)
    np.testing.assert_allclose(run(x, rotation=180.0), np.rot90(x, k=2), atol=1e-5)


def test_translation_moves_a_pixel_right_and_up():
    # x = +2 columns to the right, y = -1 row (up).
    y = run(lit(7, 3, 3), translate_x=2.0, translate_y=-1.0)
    np.testing.assert_allclose(y, lit(7, 2, 5), atol=1e-6)


def test_translation_follows_rotation_and_shear_follows_rotation():
    # A pixel one column right of the centre; rotation +90 takes it one row up.
    x = lit(9, 4, 5)
    np.testing.assert_allclose(run(x, rotation=90.0), lit(9, 3, 4), atol=1e-5)
    # Then translate (not rotated): -> row 3-2, column 4+2.
    np.testing.assert_allclose(run(x, rotation=90.0, translate_x=2.0, translate_y=-2.0),
                               lit(9, 1, 6), atol=1e-5)
    # Shear 45: a point dy rows below the centre moves dy to the right; after the
    # rotation dy = -1, so the pixel ends one column left (3, 3). Shear-then-rotate
    # would leave it at (3, 4).
    np.testing.assert_allclose(run(x, rotation=90.0, shear=45.0), lit(9, 3, 3), atol=1e-5)
    np.testing.assert_allclose(run(lit(9, 5, 4), shear=45.0), lit(9, 5, 5), atol=1e-5)


def test_scale_two_doubles_a_centred_square():
    x = np.zeros((9, 9), np.float32)
    x[3:6, 3:6] = 1.0
    y = run(x, scale=2.0)
    # Bilinear profile through the centre: 0, .5, 1, 1, 1, 1, 1, .5, 0 (width 6 = 2 * 3).
    np.testing.assert_allclose(y[4], [0, .5, 1, 1, 1, 1, 1, .5, 0], atol=1e-5)
    np.testing.assert_allclose(y.sum(), 4 * x.sum(), atol=1e-4)
    np.testing.assert_allclose(run(y, scale=0.5)[3:6, 3:6], 1.0, atol=1e-5)


def test_white_fill_on_the_uncovered_border():
    x = np.full((6, 6), 0.2, np.float32)  # all ink
    y = run(x, translate_x=2.0, translate_y=1.0)
    expected = np.full((6, 6), 0.2, np.float32)
    expected[:, :2] = 1.0
    expected[:1, :] = 1.0
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_symmetric_fill_repeats_the_edge_pixel():
    x = asymmetric(5)
    y = run(x, fill="symmetric", translate_x=2.0, translate_y=-1.0)
    padded = np.pad(x, ((0, 1), (2, 0)), mode="symmetric")
    np.testing.assert_allclose(y, padded[1:, :5], atol=1e-6)


def test_interpolation_endpoints_give_each_parameter_set():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(2, 8, 8, 3)).astype(np.float32)
    ranges = aug.AugmentationRanges.natural()
    rho1 = aug.sample_parameters(ranges, 2, [1, 2])
    rho2 = aug.sample_parameters(ranges, 2, [3, 4])
    a, b = aug.apply(x, rho1, "symmetric"), aug.apply(x, rho2, "symmetric")
    assert np.abs(a - b).max() > 0.1
    np.testing.assert_allclose(aug.apply(x, aug.interpolate_parameters(rho1, rho2, 1.0),
                                         "symmetric"), a, atol=1e-5)
    np.testing.assert_allclose(aug.apply(x, aug.interpolate_parameters(rho1, rho2, 0.0),
                                         "symmetric"), b, atol=1e-5)
    # Per-image alpha; a 10 and a -5 degree rotation meet at 0 for alpha = 1/3.
    mixed = aug.interpolate_parameters(rho1, rho2, tf.constant([1.0, 0.0]))
    np.testing.assert_allclose(aug.apply(x, mixed, "symmetric"), np.stack([a[0], b[1]]),
                               atol=1e-5)
    half = aug.interpolate_parameters(params(1, rotation=10.0), params(1, rotation=-5.0), 1 / 3)
    np.testing.assert_allclose(half["rotation"], [0.0], atol=1e-5)
    np.testing.assert_allclose(half["scale"], [1.0])


def test_sample_parameters_is_deterministic_and_in_range():
    ranges = aug.AugmentationRanges.natural()
    first = aug.sample_parameters(ranges, 64, tf.constant([7, 11]))
    again = tf.function(aug.sample_parameters, autograph=False)(ranges, 64, tf.constant([7, 11]))
    other = aug.sample_parameters(ranges, 64, tf.constant([7, 12]))
    for name, (lo, hi) in zip(aug.PARAMETER_NAMES, ranges.bounds()):
        np.testing.assert_array_equal(first[name], again[name])
        assert not np.allclose(first[name], other[name]), name
        values = first[name].numpy()
        assert values.shape == (64,) and values.dtype == np.float32
        assert lo <= values.min() and values.max() <= hi, name
        assert values.max() - values.min() > 0.5 * (hi - lo), name  # spread, not constant
    assert not np.allclose(first["translate_x"], first["translate_y"])
    scalar = aug.sample_parameters(ranges, 4, 5)
    np.testing.assert_array_equal(scalar["rotation"],
                                  aug.sample_parameters(ranges, 4, [5, 0])["rotation"])


def test_character_ranges_leave_colour_untouched():
    p = aug.sample_parameters(aug.AugmentationRanges.characters(), 16, [0, 1])
    for name in ("brightness", "contrast", "saturation"):
        np.testing.assert_array_equal(p[name], 1.0)
    np.testing.assert_array_equal(p["hue"], 0.0)
    assert np.abs(p["rotation"]).max() <= 20 and np.abs(p["rotation"]).max() > 5


def test_colour_jitter_hand_results():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.1, 0.9, size=(1, 4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(aug.apply(x, params(1, brightness=1, contrast=1, saturation=1,
                                                   hue=0)), x, atol=1e-5)
    grey = aug.apply(x, params(1, saturation=0.0)).numpy()
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-5)
    np.testing.assert_allclose(grey[..., 0], grey[..., 2], atol=1e-5)
    np.testing.assert_allclose(grey[..., 0], x @ np.float32([0.2989, 0.5870, 0.1140]), atol=1e-5)
    np.testing.assert_allclose(aug.apply(x, params(1, brightness=0.5)), 0.5 * x, atol=1e-5)
    flat = aug.apply(x, params(1, contrast=0.0)).numpy()
    np.testing.assert_allclose(flat, (x @ np.float32([0.2989, 0.5870, 0.1140])).mean(),
                               atol=1e-5)
    red = np.zeros((1, 2, 2, 3), np.float32)
    red[..., 0] = 1.0
    np.testing.assert_allclose(aug.apply(red, params(1, hue=1 / 3))[..., 1], 1.0, atol=1e-5)
    np.testing.assert_allclose(aug.apply(red, params(1, hue=1 / 3))[..., 0], 0.0, atol=1e-5)
    np.testing.assert_allclose(aug.apply(x, params(1, brightness=3.0)).numpy().max(), 1.0)


def test_batch_gets_per_image_parameters_in_one_call():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 0.9, size=(2, 6, 6, 3)).astype(np.float32)
    x[1] *= 0.3  # a darker second image: the contrast mean must be per image
    p = params(2)
    p["brightness"] = tf.constant([0.5, 1.2])
    p["contrast"] = tf.constant([1.0, 0.5])
    p["rotation"] = tf.constant([90.0, 0.0])
    p["hue"] = tf.constant([0.0, 0.05])
    both = aug.apply(x, p, "symmetric").numpy()
    assert np.abs(both[0] - both[1]).max() > 0.1
    for i in range(2):
        one = {k: v[i:i + 1] for k, v in p.items()}
        np.testing.assert_allclose(both[i:i + 1], aug.apply(x[i:i + 1], one, "symmetric"),
                                   atol=1e-6)
    np.testing.assert_allclose(both[0], np.rot90(0.5 * x[0], k=1), atol=1e-5)


def test_grey_images_ignore_colour_parameters():
    x = asymmetric(5)
    np.testing.assert_allclose(run(x, brightness=0.5, contrast=0.3, saturation=0.0, hue=0.2), x,
                               atol=1e-6)


def test_augment_inside_tf_function():
    ranges = aug.AugmentationRanges.characters()
    x = tf.constant(np.random.default_rng(4).uniform(size=(3, 28, 28, 1)), tf.float32)
    eager = aug.augment(x, ranges, tf.constant([1, 2]))
    graph = tf.function(lambda im, s: aug.augment(im, ranges, s))(x, tf.constant([1, 2]))
    np.testing.assert_allclose(eager, graph, atol=1e-6)
    assert eager.shape == x.shape
    assert 0.0 <= float(tf.reduce_min(eager)) and float(tf.reduce_max(eager)) <= 1.0
    assert np.abs(eager - x).max() > 0.1


def test_from_config_for_both_kinds():
    for kind, default in (("characters", aug.AugmentationRanges.characters()),
                          ("natural", aug.AugmentationRanges.natural())):
        ranges = aug.AugmentationRanges.from_config(add_augmentation(base_config(), kind).augment)
        assert ranges == default
    assert aug.AugmentationRanges.characters().rotation == (-20.0, 20.0)
    assert aug.AugmentationRanges.natural().translation == (-8.0, 8.0)
    assert aug.AugmentationRanges.natural().fill == "symmetric"
    augment = add_augmentation(base_config(), "characters").augment.to_dict()
    augment["rotation"] = (-5, 15)  # a (min, max) pair is accepted too
    assert aug.AugmentationRanges.from_config(augment).rotation == (-5.0, 15.0)


@pytest.mark.parametrize("key, value, message", [
    ("scale", (1.2, 0.8), "min <= max"),
    ("rotation", -3.0, "must be >= 0"),
    ("scale", (0.0, 1.0), "> 0.0"),
    ("brightness", (-0.5, 1.0), ">= 0.0"),
    ("hue", 0.7, "< 0.5"),
    ("shear", 90.0, "< 90"),
    ("kind", "cartoon", "unknown"),
    ("translation", "wide", "pair of numbers"),
])
def test_bad_ranges_raise_config_error(key, value, message):
    augment = add_augmentation(base_config(), "natural").augment.to_dict()
    augment[key] = value
    with pytest.raises(ConfigError, match=message):
        aug.AugmentationRanges.from_config(augment)


def test_bad_direct_arguments():
    with pytest.raises(ConfigError, match="min <= max"):
        aug.AugmentationRanges(rotation=(10.0, -10.0))
    with pytest.raises(ConfigError, match="fill"):
        aug.AugmentationRanges(fill="black")
    with pytest.raises(ValueError, match="fill"):
        aug.apply(np.zeros((1, 4, 4, 1), np.float32), aug.identity_parameters(1), "reflect")
    with pytest.raises(ValueError, match=r"\[B,H,W,1\]"):
        aug.apply(np.zeros((1, 4, 4, 2), np.float32), aug.identity_parameters(1))
