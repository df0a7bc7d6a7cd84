"""LASIUM's anchors and in-class strategies on fixed latents."""

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.lasium import strategies


def test_strategy_maths_on_fixed_latents():
    anchors = tf.constant([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    noise = tf.constant(np.ones((3, 2, 2), np.float32))
    # n: z + sigma * e with sigma^2 = 0.25.
    np.testing.assert_allclose(strategies.add_noise(anchors, noise, 0.25).numpy(),
                               np.repeat(anchors.numpy()[:, None] + 0.5, 2, axis=1))
    # ro: z + alpha (u - z).
    u = tf.constant(np.full((3, 2, 2), 10.0, np.float32))
    np.testing.assert_allclose(strategies.toward_random(anchors, u, 0.2).numpy(),
                               np.repeat(0.8 * anchors.numpy()[:, None] + 2.0, 2, axis=1))
    # oc: z_j + alpha (z_o - z_j) toward the named other anchors.
    other = tf.constant([[1, 2], [0, 2], [0, 1]])
    got = strategies.toward_other_class(anchors, other, 0.5).numpy()
    np.testing.assert_allclose(got[0], [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(got[2], [[0.0, 2.0], [1.0, 2.0]])


@pytest.mark.parametrize("ways", [2, 3, 5, 20])
def test_other_class_indices_for_any_n(ways):
    index = strategies.other_class_indices(tf.constant([1, 2], tf.int64), ways, 500).numpy()
    assert index.shape == (ways, 500)
    assert np.all(index != np.arange(ways)[:, None]) and index.min() >= 0
    assert index.max() < ways
    if ways > 2:  # every other class is used
        assert all(len(set(index[j])) == ways - 1 for j in range(ways))


def test_in_class_latents_and_task_layout_are_seeded():
    anchors = tf.random.stateless_normal([4, 8], seed=[0, 1])
    seed = tf.constant([3, 4], tf.int64)
    for strategy in strategies.LATENT_STRATEGIES:
        a = strategies.task_latents(strategy, anchors, 2, 3, seed, variance=0.5, alpha=0.2)
        b = strategies.task_latents(strategy, anchors, 2, 3, seed, variance=0.5, alpha=0.2)
        assert a.shape == (4, 5, 8)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(a[:, 0].numpy(), anchors.numpy())  # anchor first
    n = strategies.in_class_latents("n", anchors, 4000, seed, variance=0.5) - anchors[:, None]
    assert abs(float(tf.math.reduce_variance(n)) - 0.5) < 0.02
    with pytest.raises(ConfigError, match="unknown lasium.strategy 'x'"):
        strategies.in_class_latents("x", anchors, 1, seed)


def test_anchor_rejection_counts_resamples_and_fails_at_the_cap():
    seed = tf.constant([7, 7], tf.int64)
    anchors, resamples = strategies.sample_anchors(seed, 5, 128, epsilon=0.0)
    assert anchors.shape == (5, 128) and int(resamples) == 0
    # Mean pairwise squared distance is 2 * 128 = 256: a threshold of 240 needs redraws.
    anchors, resamples = strategies.sample_anchors(seed, 5, 128, epsilon=240.0)
    assert float(strategies.min_pairwise_squared_distance(anchors)) > 240.0
    assert int(resamples) > 0
    distances = strategies.pairwise_squared_distances(anchors).numpy()
    brute = ((anchors.numpy()[:, None] - anchors.numpy()[None]) ** 2).sum(-1)
    np.testing.assert_allclose(distances, brute, rtol=1e-4, atol=1e-3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="lower lasium.epsilon"):
        strategies.sample_anchors(seed, 5, 128, epsilon=400.0, max_resamples=20)


# -- strategy "cluster": classes = clusters of a class-conditional generator ---------------

def _cluster_generator(num_clusters=6, noise_dim=2):
    """A real COLA whose G is the identity (image = latent, [1, K+d, 1]) and whose cluster
    c's Gaussian sits at 0.1 + 0.8 e_c with a tiny spread: an image's cluster is the
    argmax of its first K pixels."""
    import keras
    from fewgen_tf.methods.cola import model as cola

    d = num_clusters + noise_dim
    generator = keras.Sequential([keras.Input((d,)), keras.layers.Dense(
        d, use_bias=False, kernel_initializer="identity"), keras.layers.Reshape((1, d, 1))])
    model = cola.COLA(generator, num_clusters)
    means = np.full((num_clusters, d), 0.1)
    means[:, :num_clusters] += 0.8 * np.eye(num_clusters)
    model.set_mixture(means, np.tile(1e-4 * np.eye(d), (num_clusters, 1, 1)))
    return model


def _clusters_of(images, num_clusters):
    return np.argmax(np.asarray(images)[:, 0, :num_clusters, 0], axis=1)


def test_cluster_strategy_classes_are_distinct_clusters():
    from fewgen_tf.methods.lasium.tasks import LatentTaskSampler

    model = _cluster_generator(6)
    sampler = LatentTaskSampler(model, ways=4, shots=2, queries=3, strategy="cluster",
                                epsilon=1e9)  # no anchors: epsilon does not apply
    chosen = set()
    for index in range(12):
        episode = {k: v.numpy() for k, v in sampler.sample_task(5, index).items()}
        assert episode["support_images"].shape == (8, 1, 8, 1)
        assert episode["query_images"].shape == (12, 1, 8, 1)
        assert episode["support_labels"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
        assert episode["query_labels"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
        support = _clusters_of(episode["support_images"], 6).reshape(4, 2)
        query = _clusters_of(episode["query_images"], 6).reshape(4, 3)
        # every image of class j comes from one cluster, and the 4 clusters are distinct
        assert np.all(support == support[:, :1]) and np.all(query == support[:, :1])
        assert len(set(support[:, 0].tolist())) == 4
        chosen.add(tuple(support[:, 0].tolist()))
        # images are fresh draws of the cluster's Gaussian, not copies
        assert not np.allclose(episode["support_images"][0], episode["support_images"][1])
    assert len(chosen) > 6  # clusters and their order change from task to task
    latents, clusters = strategies.cluster_task_latents(model, tf.constant([5, 0], tf.int64),
                                                        4, 5)
    assert latents.shape == (4, 5, 8)
    np.testing.assert_allclose(latents.numpy()[:, :, :6].mean(1),
                               0.1 + 0.8 * np.eye(6)[clusters.numpy()], atol=0.03)
    # task i of stream s is a pure function of (s, i), in a batch as alone
    batch = next(iter(sampler.dataset(seed=5, start=3, meta_batch_size=2)))
    np.testing.assert_allclose(batch["query_images"][1].numpy(),
                               sampler.sample_task(5, 4)["query_images"].numpy(), atol=1e-6)
    assert sampler.resample_statistics(5, num_tasks=3)["anchor_resamples_max"] == 0


def test_cluster_strategy_needs_a_generator_with_enough_clusters():
    import keras
    from fewgen_tf.methods.lasium.tasks import LatentTaskSampler

    class PlainGenerator:  # the plain generator contract, no clusters
        latent_dim = 4

        def decode(self, z):
            return tf.reshape(tf.sigmoid(z), [-1, 2, 2, 1])

    with pytest.raises(ConfigError, match="'cluster' needs a class-conditional generator .*"
                                          "PlainGenerator has none"):
        LatentTaskSampler(PlainGenerator(), 2, 1, 1, strategy="cluster")
    assert LatentTaskSampler(PlainGenerator(), 2, 1, 1, strategy="n").sample_task(0)[
        "support_images"].shape == (2, 2, 2, 1)
    with pytest.raises(ConfigError, match="5-way tasks need 5 distinct clusters, the "
                                          "generator has 3"):
        LatentTaskSampler(_cluster_generator(3), 5, 1, 1, strategy="cluster")
    with pytest.raises(ConfigError, match="real anchors .* do not apply"):
        LatentTaskSampler(_cluster_generator(3), 2, 1, 1, strategy="cluster",
                          real_images=np.zeros((4, 1, 5, 1), np.float32))
    with pytest.raises(ConfigError, match="'cluster' has no anchors"):
        strategies.in_class_latents("cluster", tf.zeros([2, 3]), 1, tf.constant([0, 0]))
    assert not strategies.has_clusters(keras.Sequential([keras.Input((2,))]))


def test_real_cluster_images_are_distinct_members_of_distinct_clusters():
    """`image_clusters` (lasium.cluster_images = real): class j's K + Q images are real
    images of one usable cluster (>= 2 members), distinct while the cluster has enough,
    its K support images always distinct; clusters of one image are never chosen."""
    from fewgen_tf.methods.lasium.tasks import LatentTaskSampler

    # image i encodes its own index; clusters: 0 -> 5 images, 1 -> 3, 2 -> 4, 3 -> 1,
    # 4 -> 0, 5 -> 6
    clusters = np.array([0] * 5 + [1] * 3 + [2] * 4 + [3] + [5] * 6)
    np.random.default_rng(0).shuffle(clusters)
    images = (np.arange(len(clusters), dtype=np.float32) / 100.0).reshape(-1, 1, 1, 1)
    images = np.tile(images, (1, 1, 8, 1))
    sampler = LatentTaskSampler(_cluster_generator(6), ways=3, shots=2, queries=2,
                                strategy="cluster", real_images=images,
                                image_clusters=clusters)
    chosen = set()
    for index in range(30):
        episode = {k: v.numpy() for k, v in sampler.sample_task(7, index).items()}
        support = np.round(episode["support_images"][:, 0, 0, 0] * 100).astype(int).reshape(3, 2)
        query = np.round(episode["query_images"][:, 0, 0, 0] * 100).astype(int).reshape(3, 2)
        task_clusters = clusters[support[:, 0]]
        assert len(set(task_clusters.tolist())) == 3 and not {3, 4} & set(task_clusters)
        for j in range(3):
            members = set(np.flatnonzero(clusters == task_clusters[j]).tolist())
            drawn = support[j].tolist() + query[j].tolist()
            assert set(drawn) <= members and support[j, 0] != support[j, 1]
            if len(members) >= 4:
                assert len(set(drawn)) == 4  # K + Q distinct images
            else:  # cluster 1 (3 images): cycles, the first three distinct
                assert len(set(drawn)) == 3
        assert episode["support_labels"].tolist() == [0, 0, 1, 1, 2, 2]
        chosen.add(tuple(task_clusters.tolist()))
    assert len(chosen) > 8
    # task i of stream s is a pure function of (s, i), in a batch as alone
    batch = next(iter(sampler.dataset(seed=7, start=2, meta_batch_size=2)))
    np.testing.assert_allclose(batch["support_images"][1].numpy(),
                               sampler.sample_task(7, 3)["support_images"].numpy())
    with pytest.raises(ConfigError, match="5-way tasks need 5 clusters of at least two "
                                          "images, there are 4"):
        LatentTaskSampler(_cluster_generator(6), 5, 1, 1, strategy="cluster",
                          real_images=images, image_clusters=clusters)
    with pytest.raises(ConfigError, match="18 cluster ids for 19 real images"):
        LatentTaskSampler(_cluster_generator(6), 2, 1, 1, strategy="cluster",
                          real_images=images, image_clusters=clusters[:-1])
    with pytest.raises(ConfigError, match="need lasium.strategy 'cluster'"):
        LatentTaskSampler(_cluster_generator(6), 2, 1, 1, strategy="n",
                          real_images=images, image_clusters=clusters)


def test_task_augmentation_deforms_every_image_alike_in_a_batch_and_alone():
    """`augment` (lasium.augment): every support and query image gets its own random
    affine deformation (white fill keeps images in [0, 1]); the labels and the classes'
    source images stay those of the plain task; a task is augmented alike in a meta-batch
    and alone; `none` (augment=None) is the plain task."""
    from fewgen_tf.data.augment import AugmentationRanges
    from fewgen_tf.methods.lasium.tasks import LatentTaskSampler

    clusters = np.repeat(np.arange(4), 5)
    rng = np.random.default_rng(1)
    images = np.ones((20, 12, 12, 1), np.float32)
    for i in range(20):  # a dark bar, one position per image
        r, c = rng.integers(2, 8, size=2)
        images[i, r:r + 3, c:c + 4] = 0.0
    kwargs = dict(ways=3, shots=2, queries=2, strategy="cluster", real_images=images,
                  image_clusters=clusters)
    plain = LatentTaskSampler(_cluster_generator(4), **kwargs)
    ranges = AugmentationRanges(rotation=(-30.0, 30.0), scale=(0.7, 1.3))
    augmented = LatentTaskSampler(_cluster_generator(4), augment=ranges, **kwargs)
    a = {k: v.numpy() for k, v in augmented.sample_task(3, 1).items()}
    p = {k: v.numpy() for k, v in plain.sample_task(3, 1).items()}
    assert a["support_labels"].tolist() == p["support_labels"].tolist()
    assert a["query_labels"].tolist() == p["query_labels"].tolist()
    for key in ("support_images", "query_images"):
        assert a[key].shape == p[key].shape and a[key].min() >= 0.0 and a[key].max() <= 1.0
        changed = np.abs(a[key] - p[key]).reshape(len(p[key]), -1).max(1)
        assert np.all(changed > 0.05)  # every image deformed
        # ... by its own parameters: no two images moved alike
        assert len({round(float(np.abs(a[key][i] - p[key][i]).sum()), 3)
                    for i in range(len(p[key]))}) == len(p[key])
    again = augmented.sample_task(3, 1)["query_images"].numpy()
    np.testing.assert_array_equal(again, a["query_images"])  # seeded
    batch = next(iter(augmented.dataset(seed=3, start=0, meta_batch_size=2)))
    np.testing.assert_allclose(batch["support_images"][1].numpy(), a["support_images"],
                               atol=1e-6)
    np.testing.assert_allclose(batch["query_images"][1].numpy(), a["query_images"], atol=1e-6)
    assert not np.allclose(augmented.sample_task(3, 2)["support_images"].numpy(),
                           plain.sample_task(3, 2)["support_images"].numpy())
