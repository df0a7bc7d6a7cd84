"""N-way K-shot Q-query episodes from a ClassDataset, as numpy or a tf.data pipeline.

An episode is a dict (the DESIGN's contract):
  support_images [N*K, H, W, C] float32, support_labels [N*K] int32,
  query_images   [N*Q, H, W, C] float32, query_labels   [N*Q] int32,
grouped by class (label 0's K images first). Labels 0..N-1 are given to N distinct
classes drawn in random order; support and query images of a class are distinct.

Episode `i` of a stream is a pure function of (seed, stream, i) through
`fewgen_tf.data.rng`, so evaluation episodes are identical on every run and machine and
do not depend on how many episodes were drawn before; training simply uses another
stream name and counts on from where a resumed run stopped.
"""

import numpy as np
import tensorflow as tf

from fewgen_tf.data import rng
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError

_PLAN_CHUNK = 64


def check_class_request(dataset: ClassDataset, counts, num_classes: int, per_class: int,
                        per_class_what: str):
    """Raise DataError unless every (name, value, minimum) of `counts` is an int at least
    its minimum, `dataset` has `num_classes` classes, and each class has `per_class`
    images (`per_class_what` names that sum in the message). Shared by evaluation
    episodes and few-shot generation tasks."""
    for name, value, low in counts:
        if not isinstance(value, (int, np.integer)) or value < low:
            raise DataError(f"{name} must be an int >= {low}, got {value!r}")
    if dataset.num_classes < num_classes:
        raise DataError(f"{dataset.name} has {dataset.num_classes} classes, fewer than "
                        f"{counts[0][0]}={num_classes}")
    sizes = dataset.class_sizes
    small = np.flatnonzero(sizes < per_class)
    if len(small):
        c = int(small[0])
        raise DataError(
            f"{dataset.name}: class {dataset.class_names[c]!r} has {sizes[c]} images, fewer than "
            f"{per_class_what} ({len(small)} class(es) this small)")


def check_episode_request(dataset: ClassDataset, ways: int, shots: int, queries: int):
    """Raise DataError when `dataset` cannot supply ways-way shots-shot queries-query tasks."""
    check_class_request(dataset, (("ways", ways, 1), ("shots", shots, 1),
                                  ("queries", queries, 0)), ways, shots + queries,
                        f"shots + queries = {shots} + {queries}")


def episode_plan(dataset: ClassDataset, ways, shots, queries, seed, stream, index) -> np.ndarray:
    """Image indices [ways, shots + queries] of episode `index`: row j is class j's K
    support images then its Q query images."""
    key = rng.derive_key("episode", seed, stream, int(index))
    starts, sizes = dataset.class_starts, dataset.class_sizes
    classes = rng.sample_without_replacement(rng.derive_key(key, "classes"),
                                             dataset.num_classes, ways)
    rows = [starts[c] + rng.sample_without_replacement(rng.derive_key(key, "class", j),
                                                       int(sizes[c]), shots + queries)
            for j, c in enumerate(classes)]
    return np.stack(rows).astype(np.int64)


def episode_plans(dataset, ways, shots, queries, seed, stream, indices) -> np.ndarray:
    """Plans [len(indices), ways, shots + queries] for the given episode indices."""
    return np.stack([episode_plan(dataset, ways, shots, queries, seed, stream, i)
                     for i in indices]) if len(indices) else np.zeros(
        (0, ways, shots + queries), np.int64)


def sample_episode(dataset, ways, shots, queries, seed, stream, index) -> dict:
    """Episode `index` of a stream as numpy arrays."""
    check_episode_request(dataset, ways, shots, queries)
    plan = episode_plan(dataset, ways, shots, queries, seed, stream, index)
    return {
        "support_images": dataset.images[plan[:, :shots].reshape(-1)],
        "support_labels": np.repeat(np.arange(ways, dtype=np.int32), shots),
        "query_images": dataset.images[plan[:, shots:].reshape(-1)],
        "query_labels": np.repeat(np.arange(ways, dtype=np.int32), queries),
    }


def episode_dataset(dataset: ClassDataset, ways: int, shots: int, queries: int, seed: int,
                    stream: str, start: int = 0, num_episodes=None,
                    meta_batch_size=None, drop_remainder=True) -> tf.data.Dataset:
    """A tf.data pipeline of episodes `start, start+1, ...` of a stream.

    With `num_episodes` the plans are computed up front (evaluation: a fixed list of
    tasks); without it the stream is endless (training) and plans are computed in
    chunks on the host. With `meta_batch_size` episodes are batched along a leading
    meta-batch axis; a ragged last batch is dropped (static shapes for training) unless
    `drop_remainder=False` (evaluation, where every task counts).
    """
    check_episode_request(dataset, ways, shots, queries)
    width = shots + queries
    if num_episodes is not None:
        plans = tf.data.Dataset.from_tensor_slices(episode_plans(
            dataset, ways, shots, queries, seed, stream, range(start, start + num_episodes)))
    else:
        def make_plans(indices):
            return episode_plans(dataset, ways, shots, queries, seed, stream, indices)

        def plan_chunk(indices):
            chunk = tf.numpy_function(make_plans, [indices], tf.int64, stateful=False)
            return tf.ensure_shape(chunk, [_PLAN_CHUNK, ways, width])

        plans = (tf.data.Dataset.counter(start).batch(_PLAN_CHUNK)
                 .map(plan_chunk).unbatch())

    images = tf.constant(dataset.images)
    support_labels = tf.repeat(tf.range(ways, dtype=tf.int32), shots)
    query_labels = tf.repeat(tf.range(ways, dtype=tf.int32), queries)

    def gather(plan):
        return {
            "support_images": tf.gather(images, tf.reshape(plan[:, :shots], [-1])),
            "support_labels": support_labels,
            "query_images": tf.gather(images, tf.reshape(plan[:, shots:], [-1])),
            "query_labels": query_labels,
        }

    episodes = plans.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if meta_batch_size is not None:
        episodes = episodes.batch(meta_batch_size, drop_remainder=drop_remainder)
    return episodes.prefetch(tf.data.AUTOTUNE)
