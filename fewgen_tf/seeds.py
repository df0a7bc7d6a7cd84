"""Stateless TensorFlow seeds: the one way a scalar seed becomes the [2] int64 seed of
`tf.random.stateless_*`, and sub-seeds are folded from it. (NumPy-side draws use the
counter streams of fewgen_tf/data/rng.py.)"""

import tensorflow as tf


def seed_pair(seed, salt=0):
    """A scalar `seed` -> [seed, salt] (int64); a [2] seed is returned as it is."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([seed, tf.constant(salt, tf.int64)])
    return seed


def fold(seed, *parts):
    """`seed` [2] with every part folded in turn (`stateless_fold_in`): independent
    streams named by integers, e.g. fold(seed, step, 3)."""
    for part in parts:
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(part, tf.int64))
    return seed
