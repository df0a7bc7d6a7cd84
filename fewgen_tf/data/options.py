"""tf.data options every long-lived input stream of the library gets."""

import tensorflow as tf


def without_autotune_thread(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with tf.data's autotuning model thread turned off: `AUTOTUNE` map
    parallelism falls back to the number of cores and `prefetch(AUTOTUNE)` grows its
    buffer with its own (legacy) tuner, neither of which needs that thread.

    Why: destroying an iterator waits until that thread wakes up, and between two
    optimisations it sleeps for a period that doubles up to 60 s (TF 2.21, seen with gdb:
    `RootDataset::Iterator::~Iterator` -> `UnboundedThreadPool::LogicalThreadWrapper`
    waiting on `Model::OptimizeLoop`). Every `fit` of a minute or more therefore ended
    with a stall of 0-60 s before it returned: 39-56 s at the end of the quickstart's
    generator or meta-training. Element values and order do not depend on
    it."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
