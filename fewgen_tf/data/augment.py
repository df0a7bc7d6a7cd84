"""Augmentation whose parameters can be interpolated (AugIntAE, Eq. 1).

AugIntAE decodes alpha*E(A) + (1-alpha)*E(B) into C, where A and B are one image x under
parameter sets rho1 and rho2 and C is x under alpha*rho1 + (1-alpha)*rho2. So the
augmentation must be a function of an explicit parameter vector that is linear to
interpolate, sampled uniformly over fixed ranges (appendix A.1), with a different rho per
image of a batch: `sample_parameters` -> `interpolate_parameters` -> `apply`.

A batch of parameter sets is a dict of float32 tensors [B], keyed by `PARAMETER_NAMES`:
  rotation     degrees; positive = counter-clockwise as the image is displayed
               (rows down), so +90 equals `np.rot90(image, k=1)`.
  translate_x  pixels; positive moves content to the right (towards higher columns).
  translate_y  pixels; positive moves content down (towards higher rows).
  scale        isotropic zoom factor; 2 doubles the content's extent.
  shear        degrees; a point `dy` rows below the centre moves `tan(shear) * dy`
               pixels to the right (x-shear).
  brightness   multiplies the RGB values.
  contrast     blends with the per-image mean grey level: mean + c * (x - mean).
  saturation   blends with the grey (luma) image: grey + s * (x - grey).
  hue          shift as a fraction of the hue circle (0.05 = 18 degrees).

The geometry is, in this order, rotation, shear and scale about the image centre
((W-1)/2, (H-1)/2) in pixel-centre coordinates, then translation. The colour jitter
(3-channel images only, in the order above) follows the geometry; grey images ignore
the colour parameters.
"""

import dataclasses
import math
from typing import Dict, Optional, Tuple

import keras
import ml_collections
import tensorflow as tf

from fewgen_tf import config as config_lib

PARAMETER_NAMES = ("rotation", "translate_x", "translate_y", "scale", "shear",
                   "brightness", "contrast", "saturation", "hue")
FILLS = tuple(config_lib.AUGMENT_FILLS.values())  # ("white", "symmetric")
Params = Dict[str, tf.Tensor]
Range = Tuple[float, float]

# ITU-R 601 luma, the weights of tf.image.rgb_to_grayscale.
_LUMA = (0.2989, 0.5870, 0.1140)


@dataclasses.dataclass(frozen=True)
class AugmentationRanges:
    """Uniform sampling ranges (min, max) of every parameter, and the fill mode.

    `translation` is the range of both translate_x and translate_y (drawn
    independently). `fill` is how pixels that come from outside the image are filled:
    "white" for dark strokes on white, "symmetric" for natural images.
    """
    rotation: Range = (0.0, 0.0)
    translation: Range = (0.0, 0.0)
    scale: Range = (1.0, 1.0)
    shear: Range = (0.0, 0.0)
    brightness: Range = (1.0, 1.0)
    contrast: Range = (1.0, 1.0)
    saturation: Range = (1.0, 1.0)
    hue: Range = (0.0, 0.0)
    fill: str = "white"

    def __post_init__(self):
        # the checks of `augment.*` (fewgen_tf/config.py), which config validation runs too
        for field in dataclasses.fields(self):
            if field.name != "fill":
                object.__setattr__(self, field.name,
                                   config_lib.augment_range(field.name, getattr(self, field.name)))
        config_lib.check_augment_fill(self.fill)

    @classmethod
    def characters(cls) -> "AugmentationRanges":
        """AugIntAE's handwritten-character ranges (appendix A.1), white fill: the
        declared `augment.*` defaults (fewgen_tf/config.py)."""
        return cls._declared("characters")

    @classmethod
    def natural(cls) -> "AugmentationRanges":
        """Natural images: half the rotation and shear, double the translation, colour
        jitter 0.75-1.25 and hue +-5% (appendix A.1), symmetric padding (CIFAR): the
        declared `augment.*` of `add_augmentation(config, "natural")`."""
        return cls._declared("natural")

    @classmethod
    def _declared(cls, kind):
        augment = config_lib.add_augmentation(ml_collections.ConfigDict(), kind).augment
        # (a magnitude of 0 is the range (0.0, 0.0) here, as these presets always were)
        values = {name: (0.0, 0.0) if augment[name] == 0
                  else config_lib.augment_value(name, augment[name])
                  for name in config_lib.AUGMENT_RANGES}
        return cls(fill=config_lib.augment_fill(kind), **values)

    @classmethod
    def from_config(cls, augment) -> "AugmentationRanges":
        """From `config.augment` (fewgen_tf.config.add_augmentation).

        rotation, translation, shear and hue are magnitudes m (range [-m, m]) or
        (min, max) pairs; the others are (min, max) pairs. `kind` picks the fill:
        characters -> white, natural -> symmetric.
        """
        kind = augment["kind"]
        fill = config_lib.augment_fill(kind)
        defaults = cls.characters() if kind == "characters" else cls.natural()
        values = {}
        for name in config_lib.AUGMENT_RANGES:
            value = augment[name]
            values[name] = (getattr(defaults, name) if value is None
                            else config_lib.augment_value(name, value))
        return cls(fill=fill, **values)

    def bounds(self) -> Tuple[Range, ...]:
        """(min, max) of each name in PARAMETER_NAMES, in that order."""
        by_name = dataclasses.asdict(self)
        by_name["translate_x"] = by_name["translate_y"] = self.translation
        return tuple(tuple(by_name[name]) for name in PARAMETER_NAMES)


def _as_seed(seed) -> tf.Tensor:
    """A shape-[2] int seed; a scalar s becomes [s, 0]."""
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise ValueError(f"seed must be integer, got {seed.dtype.name}")
    seed = tf.cast(seed, tf.int64)
    return tf.stack([seed, tf.zeros_like(seed)]) if seed.shape.rank == 0 else seed


def sample_parameters(ranges: AugmentationRanges, batch_size, seed) -> Params:
    """`batch_size` parameter sets drawn uniformly and independently from `ranges`.

    One `tf.random.stateless_uniform` draw of shape [batch_size, 9] with the Philox
    algorithm named explicitly (the default "auto_select" may pick another algorithm
    on another device), so the same seed gives the same parameters on every machine,
    eagerly or inside tf.function. `seed`: a shape-[2] int tensor (or a scalar int).
    """
    u = tf.random.stateless_uniform([batch_size, len(PARAMETER_NAMES)], _as_seed(seed),
                                    dtype=tf.float32, alg="philox")
    lo, hi = (tf.constant(b, tf.float32) for b in zip(*ranges.bounds()))
    values = lo + (hi - lo) * u
    return {name: values[:, i] for i, name in enumerate(PARAMETER_NAMES)}


def identity_parameters(batch_size) -> Params:
    """Parameter sets that leave images unchanged."""
    zeros, ones = tf.zeros([batch_size], tf.float32), tf.ones([batch_size], tf.float32)
    neutral = {"scale": ones, "brightness": ones, "contrast": ones, "saturation": ones}
    return {name: neutral.get(name, zeros) for name in PARAMETER_NAMES}


def interpolate_parameters(rho1: Params, rho2: Params, alpha) -> Params:
    """alpha*rho1 + (1-alpha)*rho2 per image: the parameters of AugIntAE's target C.

    `alpha` is a scalar or a [B] tensor. The interpolation is of the parameters, not of
    the images or the matrices: a 10 and a -5 degree rotation give, at alpha=1/3, a
    0 degree rotation.
    """
    alpha = tf.cast(alpha, tf.float32)
    return {name: alpha * rho1[name] + (1.0 - alpha) * rho2[name] for name in PARAMETER_NAMES}


def inverse_transforms(params: Params, height: int, width: int) -> tf.Tensor:
    """[B, 8] rows for keras.ops.image.affine_transform.

    affine_transform maps each OUTPUT pixel (x=column, y=row) to the INPUT point it
    samples, so the rows hold the inverse of the forward map
        out = c + t + A (in - c),  A = scale * Shear * Rot,
    i.e. in = c + A^-1 (out - c - t), with c the image centre and t the translation.
    Rot is a counter-clockwise rotation in the displayed (y down) frame.
    """
    theta = params["rotation"] * (math.pi / 180.0)
    cos, sin = tf.cos(theta), tf.sin(theta)
    shear = tf.tan(params["shear"] * (math.pi / 180.0))
    s = params["scale"]
    # Rot = [[cos, sin], [-sin, cos]], Shear = [[1, shear], [0, 1]].
    a11, a12 = s * (cos - shear * sin), s * (sin + shear * cos)
    a21, a22 = -s * sin, s * cos
    det = a11 * a22 - a12 * a21  # = scale^2
    i11, i12, i21, i22 = a22 / det, -a12 / det, -a21 / det, a11 / det
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    ox, oy = cx + params["translate_x"], cy + params["translate_y"]
    b1 = cx - i11 * ox - i12 * oy
    b2 = cy - i21 * ox - i22 * oy
    zeros = tf.zeros_like(s)
    return tf.stack([i11, i12, b1, i21, i22, b2, zeros, zeros], axis=1)


def _colour_jitter(images: tf.Tensor, params: Params) -> tf.Tensor:
    """Brightness, contrast, saturation, hue for [B,H,W,3] images, clipped after each."""
    def per_image(name):
        return tf.reshape(params[name], [-1, 1, 1, 1])

    def grey(x):
        return tf.reduce_sum(x * tf.constant(_LUMA, tf.float32), axis=-1, keepdims=True)

    x = tf.clip_by_value(images * per_image("brightness"), 0.0, 1.0)
    mean = tf.reduce_mean(grey(x), axis=[1, 2, 3], keepdims=True)
    x = tf.clip_by_value(mean + per_image("contrast") * (x - mean), 0.0, 1.0)
    g = grey(x)
    x = tf.clip_by_value(g + per_image("saturation") * (x - g), 0.0, 1.0)
    hsv = tf.image.rgb_to_hsv(x)
    hue = tf.math.floormod(hsv[..., :1] + per_image("hue"), 1.0)
    x = tf.image.hsv_to_rgb(tf.concat([hue, hsv[..., 1:]], axis=-1))
    return tf.clip_by_value(x, 0.0, 1.0)


def apply(images, params: Params, fill: str = "white") -> tf.Tensor:
    """Apply parameter set params[i] to images[i] for a [B,H,W,C] float32 batch.

    The geometry is one batched `keras.ops.image.affine_transform` call (bilinear).
    fill="white": constant 1.0, the background of dark strokes on white.
    fill="symmetric": affine_transform's "reflect" mode, which is `d c b a | a b c d`
    (the edge pixel repeated), i.e. NumPy's "symmetric" padding that AugIntAE uses
    for CIFAR; affine_transform offers no "mirror" mode (edge not repeated).
    Then, for 3-channel images only, the colour jitter. The result is in [0, 1].
    Works in tf.function but not under jit_compile=True: XLA has no kernel for
    ImageProjectiveTransformV3, so augment outside XLA-compiled steps.
    """
    if fill not in FILLS:
        raise ValueError(f"fill {fill!r} is unknown; valid: {', '.join(FILLS)}")
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [B,H,W,1] or [B,H,W,3], got {images.shape}")
    shape = tf.shape(images)
    transforms = inverse_transforms(params, tf.cast(shape[1], tf.float32),
                                    tf.cast(shape[2], tf.float32))
    out = keras.ops.image.affine_transform(
        images, transforms, interpolation="bilinear",
        fill_mode="constant" if fill == "white" else "reflect", fill_value=1.0,
        data_format="channels_last")
    if images.shape[-1] == 3:
        out = _colour_jitter(out, params)
    return tf.clip_by_value(out, 0.0, 1.0)


def augment(images, ranges: AugmentationRanges, seed, fill: Optional[str] = None) -> tf.Tensor:
    """Images under freshly sampled parameters (sample_parameters + apply).

    `fill` defaults to `ranges.fill`.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    params = sample_parameters(ranges, tf.shape(images)[0], seed)
    return apply(images, params, fill or ranges.fill)
