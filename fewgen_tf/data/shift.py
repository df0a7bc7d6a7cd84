"""Integer pixel translations of image batches: LASIUM's shifted queries (the reference
code's +-5 px on 28x28) and ProtoNets' test-time shift averaging (`meta.test_shifts`)."""

import keras
import tensorflow as tf


def translate_images(images, shifts):
    """Shift each image by integer (dx, dy) pixels, edges repeated (`shifts` [B, 2])."""
    shifts = tf.cast(shifts, tf.float32)
    ones, zeros = tf.ones_like(shifts[:, 0]), tf.zeros_like(shifts[:, 0])
    transform = tf.stack([ones, zeros, -shifts[:, 0], zeros, ones, -shifts[:, 1], zeros, zeros],
                         axis=1)
    return keras.ops.image.affine_transform(images, transform, interpolation="nearest",
                                            fill_mode="nearest", data_format="channels_last")


def cross_offsets(pixels: int):
    """The unshifted image and its four shifts by `pixels` along each axis."""
    return [(0, 0), (pixels, 0), (-pixels, 0), (0, pixels), (0, -pixels)]


def shifted_copies(images, pixels: int):
    """[5 * B, H, W, C]: the batch under each of `cross_offsets(pixels)`, offset-major
    (copy j of image i at row j * B + i)."""
    n = tf.shape(images)[0]
    return tf.concat([translate_images(images, tf.tile([[dx, dy]], [n, 1]))
                      for dx, dy in cross_offsets(pixels)], axis=0)
