"""Reconstruction losses shared by the generators (COLA / sCOLA / GLO step II; any other
model may import them). Per-image losses: [B] tensors, the caller averages.

Laplacian-pyramid loss (COLA Eq. 5, after GLO, Bojanowski et al. 2018):

  L_lap(x, x') = |x - x'| + gamma * sum_{i=1..k} 2^(-2i) |L_i(x) - L_i(x')|

|.| is the per-image MEAN absolute difference (the sum only rescales it). The pyramid is
Burt & Adelson's with a 5x5 Gaussian G (sigma `LAP_SIGMA` = 2, as in the GLO ports):
  down(y)    = (G * y)[::2, ::2]
  up(y, hw)  = G' * (y with zeros inserted), cropped to hw (a transposed convolution)
  L_i        = g_i - up(down(g_i)),  g_1 = x,  g_{i+1} = down(g_i)   for i = 1..bands
  L_{bands+1} = g_{bands+1}          (the low-pass residual)
so k = bands + 1 levels, i = 1 is the finest band, and x = L_1 + up(L_2 + up(... )) exactly
(`reconstruct`; G' is `upsampling_kernel`). Convolutions zero-pad (SAME): the
reconstruction stays exact because the same `up` builds and inverts the pyramid.

Perceptual loss (Eq. 4): `PerceptualLoss`, on a user-supplied network (a VGG in the
paper; nothing is downloaded here).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.cola import config as cola_config

LAP_SIZE = 5
LAP_SIGMA = 2.0
LAP_BANDS = 3


def gaussian_kernel(size: int = LAP_SIZE, sigma: float = LAP_SIGMA) -> np.ndarray:
    """[size, size] normalised Gaussian (sum 1)."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-r ** 2 / (2.0 * sigma ** 2))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def _per_channel(images):
    """[B,H,W,C] -> [B*C,H,W,1] (every channel filtered alike), and the inverse."""
    shape = tf.shape(images)
    flat = tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [-1, shape[1], shape[2], 1])

    def back(x):
        s = tf.shape(x)
        return tf.transpose(tf.reshape(x, [shape[0], shape[3], s[1], s[2]]), [0, 2, 3, 1])
    return flat, back


def _down(x, kernel):
    return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")[:, ::2, ::2, :]


def _up(x, kernel, height, width):
    output_shape = tf.stack([tf.shape(x)[0], height, width, 1])
    return tf.nn.conv2d_transpose(x, kernel, output_shape, strides=2, padding="SAME")


def upsampling_kernel(size: int = LAP_SIZE, sigma: float = LAP_SIGMA) -> np.ndarray:
    """G': the Gaussian with, along each axis, the even and the odd taps each summing to
    1, so that zero-insertion upsampling reproduces constants exactly. (The textbook 4G
    reproduces a constant only for the binomial kernel; with sigma = 2 it would put a
    checkerboard into the bands of a flat image.)"""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-r ** 2 / (2.0 * sigma ** 2))
    even = (np.arange(size) % 2) == ((size - 1) // 2) % 2  # the centre tap's parity
    g = np.where(even, g / g[even].sum(), g / g[~even].sum())
    return np.outer(g, g).astype(np.float32)


def _kernel(sigma):
    return tf.constant(gaussian_kernel(LAP_SIZE, sigma)[:, :, None, None])


def _up_kernel(sigma):
    return tf.constant(upsampling_kernel(LAP_SIZE, sigma)[:, :, None, None])


def check_levels(image_shape, bands: int):
    """A ConfigError when `bands` halvings would shrink the image below 2 pixels."""
    cola_config.check_lap_bands(bands, min(int(image_shape[0]), int(image_shape[1])))


def laplacian_pyramid(images, bands: int = LAP_BANDS, sigma: float = LAP_SIGMA):
    """[L_1 (finest band), ..., L_bands, low-pass residual], each [B, h_i, w_i, C]."""
    images = tf.convert_to_tensor(images, tf.float32)
    kernel, up_kernel = _kernel(sigma), _up_kernel(sigma)
    current, back = _per_channel(images)
    levels = []
    for _ in range(bands):
        down = _down(current, kernel)
        levels.append(back(current - _up(down, up_kernel, tf.shape(current)[1],
                                         tf.shape(current)[2])))
        current = down
    levels.append(back(current))
    return levels


def reconstruct(levels, sigma: float = LAP_SIGMA):
    """The image whose pyramid is `levels` (inverse of `laplacian_pyramid`)."""
    kernel = _up_kernel(sigma)
    current, _ = _per_channel(levels[-1])
    for band in reversed(levels[:-1]):
        flat, back = _per_channel(band)
        current = flat + _up(current, kernel, tf.shape(flat)[1], tf.shape(flat)[2])
    return back(current)


def _mean_abs(a, b):
    return tf.reduce_mean(tf.abs(a - b), axis=[1, 2, 3])


def laplacian_loss(target, output, gamma: float = 1.0, bands: int = LAP_BANDS,
                   sigma: float = LAP_SIGMA):
    """Eq. 5 per image [B]: mean|x - x'| + gamma * sum_i 2^(-2i) mean|L_i(x) - L_i(x')|,
    i = 1 (finest) .. bands + 1 (the low-pass residual). The pyramid is linear, so the
    pyramid of the difference is taken once."""
    diff = tf.convert_to_tensor(target, tf.float32) - tf.convert_to_tensor(output, tf.float32)
    loss = tf.reduce_mean(tf.abs(diff), axis=[1, 2, 3])
    for i, level in enumerate(laplacian_pyramid(diff, bands, sigma), start=1):
        loss += gamma * 2.0 ** (-2 * i) * tf.reduce_mean(tf.abs(level), axis=[1, 2, 3])
    return loss


class PerceptualLoss:
    """Eq. 4 per image [B]: mean|x - x'| + sum_l mean|l(x) - l(x')| over `layers` of
    `model` (a keras.Model or a `.keras` / `.h5` path, layers by name, or a SavedModel
    directory whose `serving_default` outputs are named like the layers). Its weights
    are frozen. The network takes images in [0, 1]: put any preprocessing (ImageNet mean
    / std, resizing) inside it. Grey images are repeated to 3 channels when the network
    takes 3."""

    def __init__(self, model, layers):
        self.layers = tuple(layers)
        if not self.layers:
            raise ConfigError("the perceptual loss needs at least one layer name "
                              "(cola.perceptual_layers)")
        if isinstance(model, str):
            self.source = model
            model = self._load(os.path.expanduser(model))
        else:
            self.source = getattr(model, "name", "model")
        if isinstance(model, keras.Model):
            names = [layer.name for layer in model.layers]
            missing = [n for n in self.layers if n not in names]
            if missing:
                raise ConfigError(f"perceptual model {self.source!r} has no layer(s) "
                                  f"{missing}; its layers: {', '.join(names)}")
            model.trainable = False
            self.channels = int(model.inputs[0].shape[-1])
            features = keras.Model(model.inputs,
                                   [model.get_layer(n).output for n in self.layers])
            self._features = lambda x: list(features(x, training=False))
        else:  # a SavedModel signature
            function = model.signatures["serving_default"]
            outputs = sorted(function.structured_outputs)
            missing = [n for n in self.layers if n not in outputs]
            if missing:
                raise ConfigError(f"perceptual SavedModel {self.source!r} has no output(s) "
                                  f"{missing}; its serving_default outputs: "
                                  f"{', '.join(outputs)}")
            specs = function.structured_input_signature[1]
            if len(specs) != 1:
                raise ConfigError(f"perceptual SavedModel {self.source!r}: serving_default "
                                  f"must take one image input, takes {sorted(specs)}")
            name, spec = next(iter(specs.items()))
            self.channels = int(spec.shape[-1]) if spec.shape[-1] is not None else 3
            self._module = model  # keeps the variables alive
            self._features = lambda x: [function(**{name: x})[n] for n in self.layers]

    @staticmethod
    def _load(path):
        if not os.path.exists(path):
            raise ConfigError(f"perceptual model {path!r} does not exist")
        try:
            if os.path.isdir(path):
                return tf.saved_model.load(path)
            return keras.saving.load_model(path, compile=False)
        except (OSError, ValueError, tf.errors.OpError) as e:
            raise ConfigError(f"cannot load the perceptual model {path!r}: "
                              f"{str(e).strip().splitlines()[0][:200]}") from None

    def __call__(self, target, output):
        target = tf.convert_to_tensor(target, tf.float32)
        output = tf.convert_to_tensor(output, tf.float32)
        loss = _mean_abs(target, output)
        both = tf.concat([target, output], 0)
        if both.shape[-1] == 1 and self.channels == 3:
            both = tf.repeat(both, 3, axis=-1)
        for feature in self._features(both):
            a, b = tf.split(tf.cast(feature, tf.float32), 2, axis=0)
            axes = list(range(1, len(a.shape)))
            loss += tf.reduce_mean(tf.abs(a - b), axis=axes)
        return loss


RECONSTRUCTION_LOSSES = cola_config.RECONSTRUCTION_LOSSES  # (declared with cola.*)


def make_reconstruction_loss(kind: str, image_shape, gamma: float = 1.0,
                             bands: int = LAP_BANDS, perceptual_model=None,
                             perceptual_layers=()):
    """(target, output) -> per-image loss [B] for `kind` (RECONSTRUCTION_LOSSES)."""
    cola_config.check_loss(kind, perceptual_model)
    if kind == "laplacian":
        check_levels(image_shape, bands)
        return lambda x, y: laplacian_loss(x, y, gamma, bands)
    if kind == "perceptual":
        return PerceptualLoss(perceptual_model, perceptual_layers)
    return _mean_abs  # l1
