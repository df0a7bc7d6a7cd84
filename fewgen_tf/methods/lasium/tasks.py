"""Generator + strategy -> Episode dicts (LASIUM Algorithm 1) as a tf.data pipeline.

Task i of a stream with seed s is a pure function of (s, i): anchors (with epsilon
rejection), then each class's anchor followed by shots + queries - 1 in-class latents
(strategy n / ro / oc); the first `shots` images of a class form its support set and
the rest its queries. GAN mode decodes every latent; VAE mode draws the anchors as the
encodings of N random real unlabeled images and uses each real image itself as its
class's first support sample. Optionally, generated query images are shifted by a
random integer translation of up to `translate` pixels (the reference code's +-5 px on
28x28). Latents are computed per task, then the images of a whole meta-batch are
generated in one generator call. Optionally (`augment`, `lasium.augment`), every task
image, support and query, then goes through its own random affine augmentation
(fewgen_tf.data.augment's ranges: rotation, shear, scale, translation), so that the
meta-learner sees each pseudo-class under the deformations a new drawer would make:
UMTRA's augmented tasks (Khodadadeh et al. 2019) on top of the generator's variation.

Strategy `cluster` (a class-conditional generator such as COLA): the task's N classes
are N distinct clusters chosen from (s, i), and all K + Q images of class j are decoded
from latents of cluster j's Gaussian (`strategies.cluster_task_latents`); there are no
anchors, so `epsilon` and real anchors do not apply. With `image_clusters` (each real
training image's cluster, e.g. COLA's step-I assignment; `lasium.cluster_images = real`)
the K + Q images of class j are instead distinct real images of cluster j (clusters of
fewer than two images are never chosen; a cluster of fewer than K + Q images repeats its
images, its first K always distinct): CACTUs' pseudo-labelled tasks (Hsu et al. 2019)
with the generator's clusters, nothing decoded.
"""

import numpy as np
import tensorflow as tf

from fewgen_tf.data import augment as augment_lib
from fewgen_tf.data.shift import translate_images
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.lasium import strategies
from fewgen_tf.methods.lasium.config import check_strategy


def per_task_draws(seeds, stream: int, draw, output_signature):
    """`draw(seed)` for each task of a batch, from the task's own seed [B, 2] folded with
    `stream`: a task's random draws are the same in any meta-batch and alone."""
    return tf.map_fn(lambda seed: draw(tf.random.experimental.stateless_fold_in(seed, stream)),
                     tf.cast(seeds, tf.int64), fn_output_signature=output_signature)


def cluster_members(image_clusters, real_images, num_clusters: int, ways: int):
    """(members [K, M] image indices padded with 0, counts [K], usable [U] the clusters of
    at least two images) from each real image's cluster; ConfigError when the counts do
    not match or fewer than `ways` clusters are usable."""
    clusters = np.asarray(image_clusters, np.int64).reshape(-1)
    if real_images is None or len(clusters) != len(real_images):
        raise ConfigError(f"image clusters: {len(clusters)} cluster ids for "
                          f"{0 if real_images is None else len(real_images)} real images")
    if len(clusters) and (clusters.min() < 0 or clusters.max() >= num_clusters):
        raise ConfigError(f"image clusters must lie in [0, {num_clusters}), got "
                          f"[{clusters.min()}, {clusters.max()}]")
    counts = np.bincount(clusters, minlength=num_clusters)
    usable = np.flatnonzero(counts >= 2)
    if len(usable) < ways:
        raise ConfigError(f"image clusters: {ways}-way tasks need {ways} clusters of at least "
                          f"two images, there are {len(usable)}")
    members = np.zeros((num_clusters, max(1, int(counts.max()))), np.int64)
    for c in usable:
        members[c, :counts[c]] = np.flatnonzero(clusters == c)
    return (tf.constant(members), tf.constant(counts, tf.int64),
            tf.constant(usable, tf.int64))


class LatentTaskSampler:
    """Synthetic N-way K-shot Q-query tasks from a generator's latent space."""

    def __init__(self, generator, ways: int, shots: int, queries: int, strategy: str = "n",
                 variance: float = 0.5, alpha: float = 0.2, epsilon: float = 0.0,
                 max_resamples: int = 1000, translate: int = 0, real_images=None,
                 image_clusters=None, augment=None):
        """`augment`: None, or the `augment_lib.AugmentationRanges` every task image is
        augmented with (its own parameters per image, a pure function of the task seed)."""
        check_strategy(strategy, ways)
        self.members = None
        if strategy == strategies.CLUSTER:
            strategies.check_cluster_generator(generator, ways)
            if real_images is not None and image_clusters is None:
                raise ConfigError("lasium.strategy 'cluster' draws every image from a cluster's "
                                  "Gaussian: real anchors (lasium.vae_real_anchors) do not apply")
            if image_clusters is not None:
                self.members, self.member_counts, self.usable_clusters = cluster_members(
                    image_clusters, real_images, generator.num_clusters, ways)
        elif image_clusters is not None:
            raise ConfigError("image clusters (lasium.cluster_images = real) need "
                              "lasium.strategy 'cluster'")
        if real_images is not None and image_clusters is None and not hasattr(generator,
                                                                              "encode"):
            raise ConfigError("VAE-mode task sampling (real anchors) needs a generator with "
                              "an encoder")
        self.generator = generator
        self.ways, self.shots, self.queries = ways, shots, queries
        self.strategy, self.variance, self.alpha = strategy, variance, alpha
        self.epsilon, self.max_resamples, self.translate = epsilon, max_resamples, translate
        self.augment = augment
        self.real_images = None if real_images is None else tf.constant(real_images)

    # ------------------------------------------------------------------ per task
    def _real_indices(self, seed):
        count = tf.shape(self.real_images, out_type=tf.int64)[0]
        keys = tf.random.stateless_uniform([count], seed=seed)
        return tf.math.top_k(keys, self.ways).indices  # N distinct random images

    def task_latents(self, seed):
        """(latents [N, K+Q, d], real anchor images [N,H,W,C] or None, resamples)."""
        seed = tf.cast(seed, tf.int64)
        if self.members is not None:  # real images of N distinct clusters: no latents
            return None, self.cluster_task_images(seed), tf.constant(0, tf.int32)
        if self.strategy == strategies.CLUSTER:
            latents, _ = strategies.cluster_task_latents(self.generator, seed, self.ways,
                                                         self.shots + self.queries)
            return latents, None, tf.constant(0, tf.int32)
        anchor_seed = tf.random.experimental.stateless_fold_in(seed, 0)
        draw = None
        if self.real_images is not None:
            def draw(s):
                return self.generator.encode(tf.gather(self.real_images, self._real_indices(s)))
        anchors, resamples = strategies.sample_anchors(
            anchor_seed, self.ways, self.generator.latent_dim, self.epsilon,
            self.max_resamples, draw)
        latents = strategies.task_latents(
            self.strategy, anchors, self.shots, self.queries,
            tf.random.experimental.stateless_fold_in(seed, 1),
            variance=self.variance, alpha=self.alpha)
        real = None
        if self.real_images is not None:
            accepted = tf.random.experimental.stateless_fold_in(anchor_seed, resamples)
            real = tf.gather(self.real_images, self._real_indices(accepted))
        return latents, real, resamples

    def cluster_task_images(self, seed):
        """[N, K+Q, H, W, C] real images of N distinct usable clusters (module doc)."""
        fold = tf.random.experimental.stateless_fold_in
        width = self.shots + self.queries
        picks = strategies.distinct_clusters(fold(seed, 0), tf.size(self.usable_clusters),
                                             self.ways)
        clusters = tf.gather(self.usable_clusters, picks)                  # [N]
        counts = tf.gather(self.member_counts, clusters)                   # [N]
        slots = tf.shape(self.members, out_type=tf.int64)[1]
        keys = tf.random.stateless_uniform(tf.stack([tf.cast(self.ways, tf.int64), slots]),
                                           seed=fold(seed, 1))
        keys = tf.where(tf.range(slots)[None] < counts[:, None], keys, -1.0)  # padding last
        order = tf.argsort(keys, axis=1, direction="DESCENDING")           # a permutation
        positions = tf.range(width, dtype=tf.int64)[None] % counts[:, None]
        chosen = tf.gather(order, positions, batch_dims=1)                 # [N, K+Q]
        indices = tf.gather(tf.gather(self.members, clusters), chosen, batch_dims=1)
        return tf.gather(self.real_images, indices)

    # ------------------------------------------------------------- whole batches
    def episodes_from_latents(self, latents, real, seeds):
        """Decode a batch of task latents [B, N, K+Q, d] into a batch of episodes (with
        real cluster images, `latents` is None and `real` holds all [B, N, K+Q] images)."""
        n, width = self.ways, self.shots + self.queries
        if latents is None:
            images = tf.cast(real, tf.float32)
            batch = tf.shape(images)[0]
        else:
            batch = tf.shape(latents)[0]
            images = self.generator.decode(tf.reshape(latents, [-1, latents.shape[-1]]))
            images = tf.reshape(images, tf.concat([[batch, n, width], tf.shape(images)[1:]], 0))
        if latents is not None and real is not None:
            # VAE mode: the real image is each class's first support sample
            images = tf.concat([tf.cast(real[:, :, None], images.dtype), images[:, :, 1:]], 2)
        image_shape = images.shape[3:]
        support = tf.reshape(images[:, :, :self.shots], [batch, n * self.shots, *image_shape])
        query = tf.reshape(images[:, :, self.shots:], [batch, n * self.queries, *image_shape])
        if self.translate and self.queries:
            # each task's shifts from its own seed: alike in a meta-batch and alone
            shifts = per_task_draws(
                seeds, 2, lambda seed: tf.random.stateless_uniform(
                    [n * self.queries, 2], seed=seed, minval=-self.translate,
                    maxval=self.translate + 1, dtype=tf.int32), tf.int32)
            flat = tf.reshape(query, [-1, *image_shape])
            query = tf.reshape(translate_images(flat, tf.reshape(shifts, [-1, 2])),
                               tf.shape(query))
        if self.augment is not None:
            support = self._augmented(support, seeds, 3)
            if self.queries:
                query = self._augmented(query, seeds, 4)
        labels = tf.range(n, dtype=tf.int32)
        return {
            "support_images": support,
            "support_labels": tf.tile(tf.repeat(labels, self.shots)[None], [batch, 1]),
            "query_images": query,
            "query_labels": tf.tile(tf.repeat(labels, self.queries)[None], [batch, 1]),
        }

    def _augmented(self, images, seeds, stream):
        """[B, M, H, W, C] images, each under its own random augmentation; task b's
        parameters come from its own seed, so a task is augmented alike in a batch and
        alone."""
        count = tf.shape(images)[1]
        params = per_task_draws(
            seeds, stream, lambda seed: augment_lib.sample_parameters(self.augment, count, seed),
            {name: tf.float32 for name in augment_lib.PARAMETER_NAMES})
        params = {name: tf.reshape(value, [-1]) for name, value in params.items()}
        flat = tf.reshape(images, [-1, *images.shape[2:]])
        out = augment_lib.apply(flat, params, self.augment.fill)
        return tf.reshape(tf.cast(out, images.dtype), tf.shape(images))

    def task_seed(self, seed, index):
        return tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])

    def sample_task(self, seed, index=0):
        """One episode (unbatched) for task `index` of stream `seed`."""
        task_seed = self.task_seed(seed, index)
        latents, real, _ = self.task_latents(task_seed)
        batch = self.episodes_from_latents(None if latents is None else latents[None],
                                           None if real is None else real[None],
                                           task_seed[None])
        return {k: v[0] for k, v in batch.items()}

    def dataset(self, seed: int, start: int = 0, meta_batch_size: int = 4) -> tf.data.Dataset:
        """Endless meta-batches of tasks start, start+1, ... of stream `seed`."""
        def per_task(index):
            task_seed = self.task_seed(seed, index)
            latents, real, _ = self.task_latents(task_seed)
            out = {"seed": task_seed}
            if latents is not None:
                out["latents"] = latents
            if real is not None:
                out["real"] = real
            return out

        def per_batch(tasks):
            return self.episodes_from_latents(tasks.get("latents"), tasks.get("real"),
                                              tasks["seed"])

        parallel = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return (tf.data.Dataset.counter(start).map(per_task, **parallel)
                .batch(meta_batch_size, drop_remainder=True)
                .map(per_batch, **parallel).prefetch(tf.data.AUTOTUNE))

    def resample_statistics(self, seed: int, num_tasks: int = 100) -> dict:
        """Anchor resamples over `num_tasks` tasks, for metrics.jsonl."""
        counts = [int(self.task_latents(self.task_seed(seed, i))[2]) for i in range(num_tasks)]
        return {"anchor_resamples_mean": sum(counts) / len(counts),
                "anchor_resamples_max": max(counts), "tasks": num_tasks}
