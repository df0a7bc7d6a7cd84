"""Integer pixel translations of image batches: LASIUM's shifted queries (+-5 px on
28x28 in the LASIUM authors' code; `lasium.translate`)."""

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

