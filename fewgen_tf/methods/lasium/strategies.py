"""LASIUM's latent-space sampling (paper section 3.1, Algorithm 1), in TensorFlow.

Anchors: N latents drawn from N(0, I) and redrawn until every pairwise SQUARED
Euclidean distance exceeds `epsilon` (the paper's Table 9 thresholds are squared
distances: on a 128-d latent the mean pairwise squared distance is about 2 * 128).
In-class latents for anchor z (any N):
  n   z' = z + e,                 e ~ N(0, sigma^2 I)
  ro  z' = z + alpha (u - z),     u ~ N(0, I) a fresh random out-of-class latent
  oc  z' = z_j + alpha (z_o - z_j), z_o another anchor of the same task, o != j
      chosen uniformly per sample (the reference code hard-codes 5 classes).
A class-conditional generator (COLA: one fitted Gaussian per cluster) adds
  cluster  N distinct clusters, chosen uniformly without replacement, are the N classes;
      every image of class j (support and queries) is decoded from a fresh latent of its
      cluster's Gaussian (`generator.component_latents`). No anchors, no rejection.
      (None of the papers has this: the LASIUM idea with COLA's clusters as classes.)
Everything uses stateless random ops on an explicit seed, so the same seed gives the
same task inside tf.data, in eager code and in an exported SavedModel.
"""

import tensorflow as tf

from fewgen_tf.errors import ConfigError
# the strategy names are declared (and checked) with the rest of lasium.* in config.py
from fewgen_tf.methods.lasium.config import (CLUSTER, LATENT_STRATEGIES,  # noqa: F401
                                             STRATEGIES, check_strategy)


def pairwise_squared_distances(latents):
    """[N, N] squared Euclidean distances between the rows of `latents` [N, d]."""
    squared = tf.reduce_sum(tf.square(latents), -1)
    gram = tf.matmul(latents, latents, transpose_b=True)
    return tf.maximum(squared[:, None] + squared[None, :] - 2.0 * gram, 0.0)


def min_pairwise_squared_distance(latents):
    n = tf.shape(latents)[0]
    distances = pairwise_squared_distances(latents)
    off_diagonal = tf.linalg.set_diag(distances, tf.fill([n], tf.constant(float("inf"),
                                                                           distances.dtype)))
    return tf.reduce_min(off_diagonal)


def sample_anchors(seed, num_classes: int, latent_dim: int, epsilon: float,
                   max_resamples: int = 1000, draw=None):
    """(anchors [N, d], resamples) with all pairwise squared distances > epsilon.

    `draw(seed) -> [N, d]` draws candidate anchors (default: standard normal latents;
    VAE mode passes a function that encodes N random real images). Raises
    InvalidArgumentError naming `lasium.epsilon` when `max_resamples` redraws fail.
    """
    seed = tf.cast(seed, tf.int64)
    if draw is None:
        def draw(s):
            return tf.random.stateless_normal([num_classes, latent_dim], seed=s)

    def accepted(z):
        return tf.logical_or(num_classes < 2, min_pairwise_squared_distance(z) > epsilon)

    def cond(i, z):
        return tf.logical_and(tf.logical_not(accepted(z)), i < max_resamples)

    def body(i, z):
        return i + 1, draw(tf.random.experimental.stateless_fold_in(seed, i + 1))

    first = draw(tf.random.experimental.stateless_fold_in(seed, 0))
    resamples, anchors = tf.while_loop(cond, body, (tf.constant(0, tf.int32), first))
    tf.debugging.Assert(
        accepted(anchors),
        [f"LASIUM anchor rejection: no {num_classes} anchors with every pairwise squared "
         f"distance > epsilon={epsilon} after {max_resamples} resamples; lower "
         "lasium.epsilon (the mean pairwise squared distance of N(0, I) latents is "
         "2 * latent_dim) or raise lasium.max_resamples"])
    return anchors, resamples


# ------------------------------------------------------------------ the strategies

def add_noise(anchors, noise, variance: float):
    """n: anchors [N, d] + sqrt(variance) * noise [N, M, d] -> [N, M, d]."""
    return anchors[:, None, :] + tf.sqrt(tf.cast(variance, anchors.dtype)) * noise


def toward_random(anchors, random_latents, alpha: float):
    """ro: interpolate from each anchor toward fresh random latents [N, M, d]."""
    return anchors[:, None, :] + alpha * (random_latents - anchors[:, None, :])


def toward_other_class(anchors, other_index, alpha: float):
    """oc: interpolate from anchor j toward anchor other_index[j, m] (!= j)."""
    others = tf.gather(anchors, other_index)  # [N, M, d]
    return anchors[:, None, :] + alpha * (others - anchors[:, None, :])


def other_class_indices(seed, num_classes: int, count: int):
    """[N, M] indices o != j, uniform over the other N - 1 anchors."""
    offsets = tf.random.stateless_uniform([num_classes, count], seed=seed, minval=1,
                                          maxval=max(num_classes, 2), dtype=tf.int32)
    return (tf.range(num_classes)[:, None] + offsets) % num_classes


def in_class_latents(strategy: str, anchors, count: int, seed, variance: float = 0.5,
                     alpha: float = 0.2):
    """`count` in-class latents per anchor [N, count, d] by strategy n / ro / oc."""
    if strategy == CLUSTER:
        raise ConfigError("strategy 'cluster' has no anchors: its tasks come from "
                          "cluster_task_latents")
    num_classes, latent_dim = anchors.shape[0], anchors.shape[1]
    check_strategy(strategy, num_classes)
    if strategy == "n":
        noise = tf.random.stateless_normal([num_classes, count, latent_dim], seed=seed,
                                           dtype=anchors.dtype)
        return add_noise(anchors, noise, variance)
    if strategy == "ro":
        randoms = tf.random.stateless_normal([num_classes, count, latent_dim], seed=seed,
                                             dtype=anchors.dtype)
        return toward_random(anchors, randoms, alpha)
    return toward_other_class(anchors, other_class_indices(seed, num_classes, count), alpha)


def task_latents(strategy, anchors, shots: int, queries: int, seed, **params):
    """[N, shots + queries, d]: each class's anchor first (the support sample of
    Algorithm 1), then its shots + queries - 1 in-class latents."""
    extra = in_class_latents(strategy, anchors, shots + queries - 1, seed, **params)
    return tf.concat([anchors[:, None, :], extra], axis=1)


# ---------------------------------------------------- classes = generator clusters

def has_clusters(generator) -> bool:
    """Whether `generator` can draw latents of one chosen cluster (COLA, sCOLA)."""
    return (callable(getattr(generator, "component_latents", None))
            and isinstance(getattr(generator, "num_clusters", None), int))


def check_cluster_generator(generator, ways: int):
    """ConfigError unless `generator` has per-cluster latents and at least `ways`
    clusters."""
    if not has_clusters(generator):
        raise ConfigError(
            f"lasium.strategy 'cluster' needs a class-conditional generator with per-cluster "
            f"latents (`num_clusters` and `component_latents(components, seed)`, e.g. "
            f"generator.name=cola); {type(generator).__name__} has none: use n, ro or oc")
    if generator.num_clusters < ways:
        raise ConfigError(f"lasium.strategy 'cluster': {ways}-way tasks need {ways} distinct "
                          f"clusters, the generator has {generator.num_clusters}")


def distinct_clusters(seed, num_clusters: int, ways: int):
    """[ways] distinct cluster indices in random order (uniform without replacement)."""
    keys = tf.random.stateless_uniform([num_clusters], seed=seed)
    return tf.math.top_k(keys, ways).indices


def cluster_task_latents(generator, seed, ways: int, count: int):
    """(latents [ways, count, d], clusters [ways]): `count` latents of each of `ways`
    distinct clusters of `generator`; class j of the task is cluster clusters[j]."""
    seed = tf.cast(seed, tf.int64)
    fold = tf.random.experimental.stateless_fold_in
    clusters = distinct_clusters(fold(seed, 0), generator.num_clusters, ways)
    latents = generator.component_latents(tf.repeat(clusters, count), fold(seed, 1))
    return tf.reshape(latents, [ways, count, generator.latent_dim]), clusters
