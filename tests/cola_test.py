"""COLA / sCOLA / GLO: the Hungarian step, balanced targets, the Laplacian pyramid and
its loss (Eq. 5), the perceptual loss's layer lookup (Eq. 4), the per-epoch code
projection, the per-cluster Gaussians, sample_class, sCOLA on two trivial classes,
clear errors, and the pipeline end to end with resume and export. Tiny images (16x16),
widths and budgets keep the file fast."""

import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import tiny_configs
from fewgen_tf import pipelines
from fewgen_tf.methods.cola import losses
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.config import base_config
from fewgen_tf.methods.cola import config as cola_config
from fewgen_tf.methods.cola.config import add_cola
from fewgen_tf.data import registry
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.methods.cola import assignment
from fewgen_tf.methods.cola import generator_nets
from fewgen_tf.methods.cola import mixtures
from fewgen_tf.methods.cola import model as cola
from fewgen_tf.methods.cola import step1_clustering
from fewgen_tf.methods.lasium.tasks import LatentTaskSampler
from fewgen_tf.metrics import clustering as clustering_metrics
from fewgen_tf.methods.cola import stages as cola_steps
from fewgen_tf.stages.generator import train_generator

SIZE = 16


def _config(variant="cola", **cola_options):
    config = add_cola(base_config(), variant, num_clusters=2)
    tiny_configs.apply(config, tiny_configs.COLA, tiny_configs.COLA_STEP_ONE)
    config.cola.update(cola_options)
    return config


def _two_trivial_classes(per_class=8, seed=0):
    """Class 0: a bright square top-left on black; class 1: bottom-right. [2n,16,16,1]."""
    r = np.random.default_rng(seed)
    images = np.zeros((2 * per_class, SIZE, SIZE, 1), np.float32)
    images[:per_class, 2:7, 2:7] = 1.0
    images[per_class:, 9:14, 9:14] = 1.0
    images += r.uniform(0, 0.05, images.shape).astype(np.float32)
    return np.clip(images, 0, 1), np.repeat([0, 1], per_class)


def _quadrant_class(images):
    """0 if the top-left square is brighter than the bottom-right one, else 1."""
    images = np.asarray(images)
    return (images[:, 9:14, 9:14].mean((1, 2, 3)) > images[:, 2:7, 2:7].mean((1, 2, 3))).astype(int)


# --------------------------------------------------------------------- step I maths
def test_hungarian_recovers_a_hand_permutation():
    targets = np.array([[0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]], np.float32)
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)
    # embedding 0 is target 2, embedding 1 target 0, embedding 2 target 1
    np.testing.assert_array_equal(assignment.hungarian_assignment(embeddings, targets),
                                  [2, 0, 1])
    # a known permutation of 12 noisy GMM targets is recovered
    table, _ = assignment.balanced_targets(12, 12, 0.0, seed=3)
    perm = np.random.default_rng(1).permutation(12)
    noisy = table[perm] + 0.01 * np.random.default_rng(2).normal(size=table.shape)
    timer = assignment.HungarianTimer()
    np.testing.assert_array_equal(assignment.hungarian_assignment(noisy, table, timer),
                                  perm)
    assert timer.calls == 1 and timer.seconds > 0


def test_balanced_targets():
    targets, components = assignment.balanced_targets(103, 10, 0.05, seed=0)
    counts = np.bincount(components, minlength=10)
    assert counts.min() == 10 and counts.max() == 11 and counts.sum() == 103
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 1.0, atol=1e-6)
    assert np.mean(np.argmax(targets, 1) == components) > 0.95  # near their one-hot mean
    again, same = assignment.balanced_targets(103, 10, 0.05, seed=0)
    np.testing.assert_array_equal(again, targets)
    np.testing.assert_array_equal(same, components)
    other, _ = assignment.balanced_targets(103, 10, 0.05, seed=1)
    assert not np.allclose(other, targets)
    exact, comps = assignment.balanced_targets(6, 3, 0.0, seed=0)
    np.testing.assert_allclose(exact, np.eye(3)[comps])  # variance 0: the one-hot means
    with pytest.raises(ConfigError, match="K=11 is larger than the number of training images"):
        assignment.balanced_targets(10, 11, 0.05, seed=0)
    with pytest.raises(ConfigError, match="num_clusters must be an int >= 2"):
        assignment.balanced_targets(10, 1, 0.05, seed=0)


def test_clustering_accuracy_and_nmi_by_hand():
    labels = [0, 0, 1, 1, 2, 2]
    assert clustering_metrics.clustering_accuracy(labels, [5, 5, 3, 3, 9, 9]) == 1.0
    assert clustering_metrics.nmi(labels, [5, 5, 3, 3, 9, 9]) == pytest.approx(1.0)
    assert clustering_metrics.clustering_accuracy(labels, [0, 0, 0, 1, 1, 1]) == \
        pytest.approx(4 / 6)
    # independent partitions: I = 0
    assert clustering_metrics.nmi([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0, abs=1e-12)
    # hand value: Y = [0,0,1,1], C = [0,0,0,1]: I = H(C) - H(C|Y) = h(1/4) - 1/2 ln 2
    h = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    expected = (h - 0.5 * np.log(2)) / np.sqrt(np.log(2) * h)
    assert clustering_metrics.nmi([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(expected)


def test_step_one_clusters_trivially_separable_images(tmp_path):
    images, labels = _two_trivial_classes(16)
    config = _config(cluster_epochs=10, views=1)
    config.augment.kind = "natural"  # (symmetric fill: black stays black)
    model, timing = cola_steps.cluster_images(config, str(tmp_path), images)
    scores = cola_steps.clustering_scores(model, labels, images)
    assert scores["clustering_accuracy"] == 1.0 and scores["nmi"] == pytest.approx(1.0)
    # (the encoder alone, in inference mode, is not asserted: on 32 images its moving
    # BatchNorm statistics put every image in one cluster for 4 of 5 seeds, with the
    # shuffled order of before and the stateless one of now alike, RotNet or not)
    assert np.bincount(model.clusters()).tolist() == [16, 16]  # balanced
    assert timing["hungarian_calls"] == 5 * 4 and 0 < timing["hungarian_share"] < 1
    records = [r for r in workdir_lib.read_metrics(str(tmp_path))
               if r.get("phase") == "cola_clustering"]
    assert len(records) == 10 and records[1]["rotation_loss"] > 0  # odd epochs: RotNet
    assert records[-2]["reassigned"] < records[0]["reassigned"]  # the matching settles
    with pytest.raises(ConfigError, match="larger than the number of training images"):
        cola_steps.cluster_images(_config(num_clusters=40), str(tmp_path / "k"), images)


def test_kmeans_and_relabelling_by_hand():
    r = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = np.repeat([0, 1, 2], [30, 20, 10])  # unequal sizes: k-means need not balance
    points = centres[truth] + r.normal(0, 0.5, (60, 2))
    labels = assignment.kmeans(points, 3, seed=1)
    assert clustering_metrics.clustering_accuracy(truth, labels) == 1.0
    np.testing.assert_array_equal(labels, assignment.kmeans(points, 3, seed=1))
    # renamed to agree with a previous labelling: 2 -> 0, 0 -> 1, 1 -> 2 (one mistake)
    previous = np.array([1, 2, 0])[truth]
    previous[0] = 2
    np.testing.assert_array_equal(assignment.relabel_like(labels, previous, 3),
                                  np.array([1, 2, 0])[truth])
    # an emptied cluster is re-seeded: K = number of distinct points still gives K ids
    assert sorted(set(assignment.kmeans(np.eye(4), 4, seed=0))) == [0, 1, 2, 3]


def test_refinement_reclusters_with_kmeans_and_keeps_the_matching_fixed(tmp_path):
    """MMDC's refinement: from cola.refine_epoch on, the targets are one-hot k-means
    clusters of E1 (unbalanced where the data is) and the per-batch Hungarian stops."""
    images, labels = _two_trivial_classes(16)
    images, labels = images[:28], labels[:28]  # 16 of class 0, 12 of class 1
    config = _config(cluster_epochs=6, rotnet=False, refine_epoch=3)
    config.augment.kind = "natural"
    model, timing = cola_steps.cluster_images(config, str(tmp_path), images, labels)
    assert timing["hungarian_calls"] == 3 * 3  # epochs 1-3 of 28 // 8 = 3 steps
    clusters = model.clusters()
    assert clustering_metrics.clustering_accuracy(labels, clusters) == 1.0
    assert sorted(np.bincount(clusters).tolist()) == [12, 16]  # no longer balanced
    targets = model.targets.numpy()[model.assignment.numpy()]
    np.testing.assert_array_equal(targets, np.eye(2)[clusters])  # one-hot targets
    scores = [r for r in workdir_lib.read_metrics(str(tmp_path))
              if r.get("phase") == "cola_clustering_scores"]
    assert [r["epoch"] for r in scores] == [1, 2, 3, 4, 5, 6]
    assert scores[-1]["clustering_accuracy"] == 1.0 and "encoder_accuracy" in scores[-1]
    # resumed (the same command again): nothing retrained, the same clusters
    again, _ = cola_steps.cluster_images(config, str(tmp_path), images, labels)
    np.testing.assert_array_equal(again.clusters(), clusters)


@pytest.mark.parametrize("seed", range(12))
def test_balanced_assignment_is_the_brute_force_optimum_with_exact_sizes(seed):
    """8 images, 3 clusters of sizes 3-3-2: every labelling with those sizes is tried;
    balanced_assignment keeps the sizes and reaches the best total score."""
    scores = np.random.default_rng(seed).normal(size=(8, 3))
    capacities = np.array([3, 3, 2])
    best = max(scores[np.arange(8), labelling].sum()
               for labelling in itertools.product(range(3), repeat=8)
               if np.array_equal(np.bincount(labelling, minlength=3), capacities))
    labels = assignment.balanced_assignment(scores, capacities)
    np.testing.assert_array_equal(np.bincount(labels, minlength=3), capacities)
    assert scores[np.arange(8), labels].sum() == pytest.approx(best, abs=1e-9)


def test_balanced_assignment_overrides_preference_to_keep_the_sizes():
    """Every image prefers cluster 0; with sizes 2-2 the two that prefer it most keep it
    (a hand-made case), and bad capacities are refused."""
    scores = np.array([[0.9, 0.1], [0.6, 0.5], [0.8, 0.0], [0.7, 0.65]])
    np.testing.assert_array_equal(
        assignment.balanced_assignment(scores, [2, 2]), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="summing to the 4 images"):
        assignment.balanced_assignment(scores, [2, 1])


def test_balanced_assignment_with_many_clusters_uses_candidates_and_keeps_sizes():
    """K = 100 > MAX_SWAP_CLUSTERS: the candidate path. 300 images, 3 a cluster; each
    image scores its own cluster 1 and the rest below 0.5, but cluster 0 is also the
    second choice of 60 images: the sizes stay exact and every image gets its own."""
    r = np.random.default_rng(0)
    truth = np.repeat(np.arange(100), 3)
    scores = r.uniform(0, 0.4, (300, 100))
    scores[np.arange(300), truth] = 1.0
    scores[r.choice(np.flatnonzero(truth != 0), 60, replace=False), 0] = 0.9
    labels = assignment.balanced_assignment(scores, np.full(100, 3))
    np.testing.assert_array_equal(labels, truth)
    # all candidates full: an image still gets the best cluster with room
    crowded = np.zeros((100, 100))
    crowded[:, :20] = np.linspace(1, 0.5, 20)        # everyone prefers clusters 0-19
    labels = assignment.balanced_assignment(crowded, np.ones(100, np.int64))
    np.testing.assert_array_equal(np.sort(labels), np.arange(100))


def test_assignment_loss_sum_is_eq1_and_mean_is_it_over_k():
    """cola.assignment_loss: "sum" is Eq. 1 (squared distance summed over the K
    coordinates, averaged over images); "mean" (the reference's nn.MSELoss) is that / K."""
    images, _ = _two_trivial_classes(4)
    losses = {}
    for kind in ("mean", "sum"):
        model = step1_clustering.build_clustering_model(
            images.shape[1:], 8, 2, 1, widths=(4,), blocks=(1,), seed=0,
            assignment_loss=kind)
        loss, _, _, _ = model._assignment_loss(tf.range(8), tf.constant(images), tf.constant(
            [1, 2]), tf.constant(False))
        losses[kind] = float(loss)
    assert losses["mean"] > 0  # the same seed: the same encoder, batch and matching
    assert losses["sum"] == pytest.approx(2 * losses["mean"], rel=1e-5)  # K = 2
    with pytest.raises(ConfigError, match="assignment_loss"):
        step1_clustering.build_clustering_model(images.shape[1:], 8, 2, 1, widths=(4,),
                                                blocks=(1,), assignment_loss="l1")


def test_balanced_refinement_keeps_the_cluster_sizes(tmp_path):
    """refine_method = balanced: from cola.refine_epoch on, the targets are one-hot and
    the clusters keep the balanced sizes exactly (14-14 of 28 unequal classes, where
    k-means follows the data's 16-12), the per-batch Hungarian stopped; resumable."""
    images, labels = _two_trivial_classes(16)
    images, labels = images[:28], labels[:28]  # 16 of class 0, 12 of class 1
    config = _config(cluster_epochs=6, rotnet=False, refine_epoch=3,
                     refine_method="balanced")
    config.augment.kind = "natural"
    model, timing = cola_steps.cluster_images(config, str(tmp_path), images, labels)
    assert timing["hungarian_calls"] == 3 * 3  # epochs 1-3 only
    clusters = model.clusters()
    assert sorted(np.bincount(clusters).tolist()) == [14, 14]
    assert clustering_metrics.clustering_accuracy(labels, clusters) == pytest.approx(26 / 28)
    targets = model.targets.numpy()[model.assignment.numpy()]
    np.testing.assert_array_equal(targets, np.eye(2)[clusters])
    again, _ = cola_steps.cluster_images(config, str(tmp_path), images, labels)
    np.testing.assert_array_equal(again.clusters(), clusters)
    config.cola.refine_method = "nearest"
    with pytest.raises(ConfigError, match="refine_method"):
        cola_config.check_cola(config)


def test_judge_scores_by_hand():
    """Two clusters of 4 images; the judge knows classes keyed 'a', 'b', 'c' (its own
    order), the training split 'b', 'a'. Cluster 0 is judged a, a, a, c and cluster 1
    b, b, a, b: the judge maps 0 -> a, 1 -> b, 6 of 8 agree. Step I said cluster 0 is
    class 1 ('a') and cluster 1 is class 0 ('b'): fidelity 6/8 too; swapped, 1/8."""
    judged = [0, 0, 0, 2, 1, 1, 0, 1]             # indices of ('a', 'b', 'c')
    clusters = [0, 0, 0, 0, 1, 1, 1, 1]
    scores = cola_steps.judge_scores(judged, ("a", "b", "c"), ("b", "a"),
                                     [1, 1, 1, 1, 0, 0, 0, 0], clusters)
    assert scores == {"judged_accuracy": 0.75, "fidelity": 0.75}
    swapped = cola_steps.judge_scores(judged, ("a", "b", "c"), ("b", "a"),
                                      [0, 0, 0, 0, 1, 1, 1, 1], clusters)
    assert swapped["fidelity"] == 1 / 8 and swapped["judged_accuracy"] == 0.75


# ------------------------------------------------------------ Laplacian pyramid loss
def test_laplacian_pyramid_sums_back_to_the_image():
    r = np.random.default_rng(0)
    for shape in ((2, 28, 28, 1), (1, 16, 16, 3)):
        x = r.uniform(size=shape).astype(np.float32)
        levels = losses.laplacian_pyramid(x, bands=3)
        assert len(levels) == 4
        assert [lvl.shape[1] for lvl in levels] == [shape[1], -(-shape[1] // 2),
                                                    -(-shape[1] // 4), -(-shape[1] // 8)]
        np.testing.assert_allclose(losses.reconstruct(levels), x, atol=2e-6)
    # a constant image has (away from the zero-padded border) no band content
    flat = losses.laplacian_pyramid(np.full((1, 32, 32, 1), 0.5, np.float32), bands=1)
    np.testing.assert_allclose(flat[0][0, 6:-6, 6:-6], 0.0, atol=1e-6)
    with pytest.raises(ConfigError, match="lower cola.lap_bands"):
        losses.check_levels((16, 16, 1), 4)


def test_laplacian_loss_is_zero_for_identical_and_weights_high_frequencies():
    gamma = 4.0
    x = np.random.default_rng(0).uniform(0.3, 0.7, (1, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(losses.laplacian_loss(x, x, gamma), [0.0], atol=1e-7)
    # a checkerboard in the middle: the finest band L_1 holds almost all of it, weight 1/4
    rows, cols = np.mgrid[:32, :32]
    checker = np.where((rows + cols) % 2 == 0, 1.0, -1.0) * (abs(rows - 15.5) < 6) * (
        abs(cols - 15.5) < 6)
    high = 0.1 * checker[None, :, :, None].astype(np.float32)
    pixel = np.mean(np.abs(high))
    ratio_high = float(losses.laplacian_loss(x, x + high, gamma)[0]) / pixel
    assert ratio_high == pytest.approx(1.0 + gamma / 4.0, rel=0.08)
    # a smooth bump of the same mean |difference| lands mostly in the coarse levels,
    # weighted 1/16, 1/64, 1/256: a much smaller increase
    bump = np.exp(-((rows - 15.5) ** 2 + (cols - 15.5) ** 2) / (2 * 8.0 ** 2))
    low = (bump * pixel / bump.mean())[None, :, :, None].astype(np.float32)
    ratio_low = float(losses.laplacian_loss(x, x + low, gamma)[0]) / pixel
    assert 1.0 < ratio_low < 1.0 + gamma / 12.0 < ratio_high
    # Eq. 5 term by term: |d| + gamma * sum_i 2^(-2i) mean|L_i(d)|, i = 1 the finest
    levels = [np.abs(np.asarray(lv)).mean() for lv in losses.laplacian_pyramid(low, 3)]
    by_hand = pixel + gamma * sum(2.0 ** (-2 * i) * m for i, m in enumerate(levels, 1))
    assert ratio_low * pixel == pytest.approx(by_hand, rel=1e-5)
    # and it grows with the perturbation
    assert float(losses.laplacian_loss(x, x + 2 * high, gamma)[0]) == pytest.approx(
        2 * ratio_high * pixel, rel=1e-4)


# ------------------------------------------------------------------ perceptual loss
def _tiny_feature_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="feat_a")(inputs)
    b = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="feat_b")(a)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="pool")(b),
                       name="tiny_vgg")


def test_perceptual_loss_on_named_layers_and_clear_errors(tmp_path):
    net = _tiny_feature_model()
    path = str(tmp_path / "tiny_vgg.keras")
    net.save(path)
    loss = losses.PerceptualLoss(path, ["feat_a", "feat_b"])
    r = np.random.default_rng(0)
    x = r.uniform(size=(2, SIZE, SIZE, 1)).astype(np.float32)
    y = r.uniform(size=(2, SIZE, SIZE, 1)).astype(np.float32)
    np.testing.assert_allclose(loss(x, x), [0.0, 0.0], atol=1e-7)
    features = keras.Model(net.inputs, [net.get_layer("feat_a").output,
                                        net.get_layer("feat_b").output])
    fx, fy = features(np.repeat(x, 3, -1)), features(np.repeat(y, 3, -1))
    expected = np.abs(x - y).mean((1, 2, 3)) + sum(
        np.abs(np.asarray(a) - np.asarray(b)).mean((1, 2, 3)) for a, b in zip(fx, fy))
    np.testing.assert_allclose(loss(x, y), expected, rtol=1e-5)
    with pytest.raises(ConfigError, match=r"has no layer\(s\) \['block3_conv3'\]; its layers: "
                                          r".*feat_a"):
        losses.PerceptualLoss(net, ["feat_a", "block3_conv3"])
    with pytest.raises(ConfigError, match="does not exist"):
        losses.PerceptualLoss(str(tmp_path / "absent.keras"), ["feat_a"])

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32)])
        def serve(self, images):
            return {"edges": images[:, 1:] - images[:, :-1]}

    module = Module()
    saved = str(tmp_path / "saved")
    tf.saved_model.save(module, saved, signatures={"serving_default": module.serve})
    with pytest.raises(ConfigError, match=r"no output\(s\) \['block1_conv2'\]; its "
                                          r"serving_default outputs: edges"):
        losses.PerceptualLoss(saved, ["block1_conv2"])
    served = losses.PerceptualLoss(saved, ["edges"])
    assert float(served(x, y)[0]) > float(np.abs(x - y)[0].mean())
    with pytest.raises(ConfigError, match="needs cola.perceptual_model"):
        losses.make_reconstruction_loss("perceptual", (SIZE, SIZE, 1))


# ---------------------------------------------------------------- step II and III
def test_codes_are_unit_norm_after_every_epoch_projection(tmp_path):
    images, labels = _two_trivial_classes(8)
    parts = np.eye(2)[labels] * 3.0  # unnormalised on purpose
    codes = cola.initial_codes(parts, 4, sigma=2.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(codes[:, :2], axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(codes[:, 2:], axis=1), 1.0, atol=1e-6)
    config = _config()
    model, _ = cola_steps.train_codes(config, str(tmp_path), images, parts)
    learnt = model.codes.numpy()
    assert not np.allclose(learnt, codes, atol=1e-4)  # the codes were optimised
    np.testing.assert_allclose(np.linalg.norm(learnt[:, :2], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(learnt[:, 2:], axis=1), 1.0, atol=1e-5)
    assert int(model.optimizer.iterations) == 4 and int(model.code_optimizer.iterations) == 4
    # mid-epoch the codes leave the spheres; the epoch's last step projects them back
    model.steps_per_epoch = 1000
    model.train_step((tf.range(8), tf.constant(images[:8])))
    assert not np.allclose(np.linalg.norm(model.codes.numpy()[:8, 2:], axis=1), 1.0,
                           atol=1e-5)


def test_per_cluster_gaussians_match_numpy_and_sampling_follows_them():
    r = np.random.default_rng(0)
    codes = r.normal(size=(60, 3))
    clusters = np.repeat([0, 1, 2], 20)
    codes[clusters == 1] += 5.0
    means, covs = mixtures.fit_cluster_gaussians(codes, clusters, 3, reg=1e-3)
    for c in range(3):
        np.testing.assert_allclose(means[c], np.mean(codes[clusters == c], 0))
        np.testing.assert_allclose(covs[c], np.cov(codes[clusters == c].T) + 1e-3 * np.eye(3))
    single, _ = mixtures.fit_cluster_gaussians(codes[:1], [0], 1)
    np.testing.assert_allclose(single[0], codes[0])
    with pytest.raises(DataError, match="cluster 1 holds no code"):
        mixtures.fit_cluster_gaussians(codes, np.zeros(60), 2)
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    model = cola.COLA(generator, 2)  # K = 2, d = 1
    model.set_mixture(means[:2], covs[:2])
    z = model.component_latents(tf.fill([20000], 1), tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(z.mean(0), means[1], atol=0.05)
    np.testing.assert_allclose(np.cov(z.T), covs[1], atol=0.08)
    mixed = model.sample_latents(4000, tf.constant([3, 4])).numpy()
    near_one = np.linalg.norm(mixed - means[1], axis=1) < np.linalg.norm(mixed - means[0], axis=1)
    assert near_one.mean() == pytest.approx(0.5, abs=0.04)  # the uniform mixture
    np.testing.assert_array_equal(model.sample_latents(5, tf.constant([3, 4])),
                                  model.sample_latents(5, tf.constant([3, 4])))  # stateless


def test_low_rank_store_equals_the_full_fit_for_small_clusters_and_is_ppca_otherwise():
    """`mixture_rank` r: a cluster of <= r + 1 codes gets exactly the full fit's
    covariance (sample covariance + reg I); a larger one the PPCA covariance (the r
    leading eigenpairs kept, the other eigenvalues replaced by their mean: the trace is
    kept); GLO's full covariances convert the same way; sampling follows the stored
    Gaussian."""
    r = np.random.default_rng(2)
    dim, reg = 6, 1e-3
    codes = r.normal(size=(15, dim)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    clusters = np.repeat([0, 1], [4, 11])                  # 4 codes: rank 3; 11: rank 6
    means, covs = mixtures.fit_cluster_gaussians(codes, clusters, 2, reg=reg)
    low_means, factors, scales = mixtures.fit_cluster_gaussians_low_rank(codes, clusters, 2,
                                                                         3, reg=reg)
    assert factors.shape == (2, 3, dim) and scales.shape == (2,)
    np.testing.assert_allclose(low_means, means)
    stored = [f.T @ f + s ** 2 * np.eye(dim) for f, s in zip(factors, scales)]
    np.testing.assert_allclose(stored[0], covs[0], atol=1e-10)  # exact: 4 <= 3 + 1
    lam, vec = np.linalg.eigh(covs[1] - reg * np.eye(dim))
    lam, vec = lam[::-1], vec[:, ::-1]
    sigma2 = lam[3:].mean()
    ppca = (vec[:, :3] * (lam[:3] - sigma2)) @ vec[:, :3].T + (sigma2 + reg) * np.eye(dim)
    np.testing.assert_allclose(stored[1], ppca, atol=1e-10)
    np.testing.assert_allclose(np.trace(stored[1]), np.trace(covs[1]), rtol=1e-12)
    assert not np.allclose(stored[1], covs[1], atol=1e-3)  # (rank 6 > 3: not exact)
    glo_factors, glo_scales = mixtures.low_rank_from_covariances(covs, 3)
    np.testing.assert_allclose(glo_factors[0].T @ glo_factors[0]
                               + glo_scales[0] ** 2 * np.eye(dim), covs[0], atol=1e-10)
    generator = keras.Sequential([keras.Input((dim,)), keras.layers.Dense(4)])
    model = cola.COLA(generator, 2, mixture_rank=3)  # K = 2, d = 4
    assert not hasattr(model, "mixture_scale_tril")
    model.set_low_rank_mixture(low_means, factors, scales)
    z = model.component_latents(tf.fill([40000], 0), tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(z.mean(0), means[0], atol=0.05)
    np.testing.assert_allclose(np.cov(z.T), covs[0], atol=0.1)
    np.testing.assert_array_equal(model.sample_latents(5, tf.constant([3, 4])),
                                  model.sample_latents(5, tf.constant([3, 4])))
    model.set_mixture(means, covs)  # full covariances into the low-rank store (GLO)
    np.testing.assert_allclose(model.mixture_factors.numpy(), glo_factors, atol=1e-6)
    with pytest.raises(ConfigError, match="cola.mixture_rank must be an int >= 0"):
        cola.COLA(generator, 2, mixture_rank=-1)
    # step III of the pipelines (methods/cola/stages.fit_mixture) fills the store of the config's rank
    config = _config(mixture_rank=3)
    learnt = cola.initial_codes(np.eye(2)[clusters], 4, seed=1)   # [15, K + d = 6]
    pipeline_model = cola_steps.build_model(config, (SIZE, SIZE, 1), 2, learnt)
    assert pipeline_model.mixture_rank == 3
    cola_steps.fit_mixture(config, pipeline_model, clusters)
    expected = mixtures.fit_cluster_gaussians_low_rank(learnt, clusters, 2, 3,
                                                       config.cola.covariance_reg)
    np.testing.assert_allclose(pipeline_model.mixture_factors.numpy(), expected[1], atol=1e-6)
    np.testing.assert_allclose(pipeline_model.mixture_noise_scale.numpy(), expected[2],
                               rtol=1e-6)


def test_glo_mixture_by_em_separates_two_blobs():
    r = np.random.default_rng(1)
    codes = np.concatenate([r.normal(size=(40, 2)), r.normal(size=(40, 2)) + 8.0])
    weights, means, _ = mixtures.fit_gaussian_mixture(codes, 2, seed=0, iterations=30)
    order = np.argsort(means[:, 0])
    np.testing.assert_allclose(means[order], [codes[:40].mean(0), codes[40:].mean(0)],
                               atol=1e-3)
    np.testing.assert_allclose(weights, [0.5, 0.5], atol=1e-3)


def test_scola_on_two_trivial_classes_samples_the_asked_class(tmp_path):
    images, labels = _two_trivial_classes(8)
    config = _config("scola")
    config.generator.epochs = 40
    config.generator.lr = 1e-2
    model = cola_steps.train_scola(config, str(tmp_path), images, labels)
    for c in (0, 1):
        sampled = model.sample_class(c, 12, 7).numpy()
        assert sampled.shape == (12, SIZE, SIZE, 1)
        assert np.all(_quadrant_class(sampled) == c)
    np.testing.assert_array_equal(model.sample_class(1, 3, 7), model.sample_class(1, 3, 7))
    with pytest.raises(tf.errors.InvalidArgumentError, match="class_index must be < 2"):
        model.sample_class(2, 3, 7)
    with pytest.raises(DataError, match=r"classes \[2\] have no image"):
        cola_steps.train_scola(config, str(tmp_path / "x"), images, labels, num_classes=3)


def test_unknown_options_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown cola.architecture 'dcgan'"):
        generator_nets.generator_network("dcgan", (SIZE, SIZE, 1), 6, 2)
    with pytest.raises(ConfigError, match="needs cola.architecture = residual"):
        generator_nets.generator_network("infogan", (SIZE, SIZE, 1), 6, 2, conditional=True)
    with pytest.raises(ValueError, match="unknown COLA variant"):
        add_cola(base_config(), "vae")
    residual = generator_nets.generator_network("residual", (SIZE, SIZE, 3), 6, 2, True, 0.05)
    assert residual(tf.zeros([2, 6])).shape == (2, SIZE, SIZE, 3)
    assert any(isinstance(layer, generator_nets.ConditionalBatchNorm)
               for layer in residual.layers)


def test_a_mixture_too_large_for_memory_is_refused_before_allocating():
    """K = 1200 clusters with d = 64 would store 1200 x 1264 x 1264 floats (7.1 GiB, and
    the float64 fit twice that): a clear error, not the OOM killer."""
    stand_in = keras.Sequential([keras.Input((1264,)), keras.layers.Dense(4),
                                 keras.layers.Reshape((2, 2, 1))])
    with pytest.raises(ConfigError, match=r"cola.num_clusters=1200 .* 7.1 GiB .* lower "
                                          "cola.num_clusters"):
        cola.COLA(stand_in, 1200)
    # the low-rank store holds it: 1200 x 32 x 1264 floats (0.18 GiB)
    assert cola.COLA(stand_in, 1200, mixture_rank=32).mixture_factors.shape == (1200, 32, 1264)
    assert cola.mixture_bytes(1200, 1264, 32) < 0.2 * 2 ** 30


# ------------------------------------------------------------------------ pipeline
@pytest.mark.slow  # an end-to-end pipeline run
def test_pipeline_end_to_end_with_resume_export_and_lasium_reuse(tmp_path):
    config = _config("cola")
    tiny_configs.apply(config, tiny_configs.TWO_GLYPHS, tiny_configs.COLA_EVAL)
    config.gen_eval.feature_cache = str(tmp_path / "cache")
    workdir = str(tmp_path / "run")

    # an "interrupted" run: step I done, step II one epoch; the pipeline resumes both
    train = registry.load_splits(config.data)["train"]
    config.generator.epochs = 1
    clustering, _ = cola_steps.cluster_images(config, workdir, train.images)
    cola_steps.train_codes(config, workdir, train.images,
                           clustering.targets.numpy()[clustering.assignment.numpy()])
    config.generator.epochs = 2
    result = pipelines.run(config, workdir)

    steps_per_epoch = 24 // 8
    records = workdir_lib.read_metrics(workdir)
    assert [r["step"] for r in records if r.get("phase") == "generator"] == [
        steps_per_epoch, 2 * steps_per_epoch]
    assert [r["step"] for r in records if r.get("phase") == "cola_clustering"] == [
        steps_per_epoch, 2 * steps_per_epoch]  # step I was not trained again
    timing = [r for r in records if r.get("phase") == "cola_timing"][0]
    assert {"step1_seconds", "step2_seconds", "step3_seconds", "hungarian_share"} <= set(timing)
    evaluated = [r for r in records if r.get("phase") == "cola_clustering_eval"][0]
    assert 0.5 <= evaluated["clustering_accuracy"] <= 1.0 and 0.0 <= evaluated["nmi"] <= 1.0
    written = json.loads((tmp_path / "run" / "gen_eval.json").read_text())
    assert written["generator"] == "cola" and 0.0 <= written["metrics"]["cas"] <= 1.0
    assert written["features"].startswith("evaluation_network:")
    assert 0.0 <= written["metrics"]["fidelity"] <= written["metrics"]["judged_accuracy"] <= 1
    assert result["metrics"] == written["metrics"]
    samples = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert samples == ["clusters.png", "generator_epoch0001.png", "generator_epoch0002.png"]

    # the export answers like the model restored through generator.from_workdir
    config.generator.from_workdir = workdir
    reused = train_generator(config, str(tmp_path / "reuse"), train.images)
    assert reused.codes is None and reused.latent_dim == 2 + 4
    loaded = tf.saved_model.load(str(tmp_path / "run" / "export" / "generator" / "1"))
    out = loaded.signatures["sample_class"](class_index=tf.constant(1), num_images=tf.constant(3),
                                            seed=tf.constant(5, tf.int64))["images"]
    np.testing.assert_allclose(out, reused.sample_class(1, 3, tf.constant(5, tf.int64)),
                               atol=1e-5)
    sampled = loaded.signatures["sample"](num_images=tf.constant(2),
                                          seed=tf.constant(1, tf.int64))["images"]
    assert sampled.shape == (2, SIZE, SIZE, 1)
    z = reused.sample_latents(2, tf.constant([1, 0], tf.int64))
    np.testing.assert_allclose(loaded.signatures["decode"](latents=z)["images"],
                               reused.decode(z), atol=1e-5)
    # the plain generator contract makes it a LASIUM task source
    task = LatentTaskSampler(reused, ways=2, shots=1, queries=1).sample_task(3, 0)
    assert task["support_images"].shape == (2, SIZE, SIZE, 1)

    # GLO: same step II, random codes, no step I, an EM mixture afterwards
    glo = _config("glo")
    glo.data.update(config.data)
    glo.gen_eval.update(config.gen_eval)
    glo.generator.epochs = 1
    glo.cola.eval_images_per_class, glo.cola.sample_images = 4, 3
    pipelines.run(glo, str(tmp_path / "glo"))
    assert not (tmp_path / "glo" / "checkpoints" / "cola_clustering").exists()
    assert json.loads((tmp_path / "glo" / "gen_eval.json").read_text())["generator"] == "glo"

    # a resumed workdir of another K is refused
    config.generator.from_workdir = ""
    config.cola.num_clusters = 3
    with pytest.raises(ConfigError, match="cola.num_clusters"):
        pipelines.run(config, workdir)


def test_step_two_epoch_is_one_pass_or_a_fixed_number_of_iterations():
    config = _config()
    config.generator.batch_size = 8
    config.cola.steps_per_epoch = 0
    assert cola_steps.steps_per_epoch(config, 24) == 3    # one pass
    assert cola_steps.steps_per_epoch(config, 5) == 1     # fewer images than a batch
    config.cola.steps_per_epoch = 10                      # the small-sample protocol
    assert cola_steps.steps_per_epoch(config, 5) == 10
    assert cola_steps.steps_per_epoch(config, 24) == 10
    config.cola.steps_per_epoch = -1
    with pytest.raises(ConfigError, match=r"cola.steps_per_epoch must be an int >= 0 \(0: one pass\), got -1"):
        cola_steps.steps_per_epoch(config, 24)


# ------------------------------------------------------------- COLA trained inline
def test_any_pipeline_trains_cola_inline_and_reuses_it(tmp_path):
    """The registry's COLA `trainer`: `train_generator` (the step LASIUM's pipeline runs)
    trains COLA's steps I-III on unlabelled images in the caller's workdir, without
    generator.from_workdir; the result is the generator a later from_workdir restores."""
    config = _config()
    config.generator.epochs = 1
    config.cola.cluster_epochs = 1
    config.cola.sample_images = 2
    images, _ = _two_trivial_classes()
    workdir = str(tmp_path / "run")
    model = train_generator(config, workdir, images)  # labels never given
    assert model.num_clusters == 2 and model.latent_dim == 2 + 4
    assert (tmp_path / "run" / "checkpoints" / "cola_clustering").exists()
    assert (tmp_path / "run" / "samples" / "clusters.png").exists()
    config.generator.from_workdir = workdir
    reused = train_generator(config, str(tmp_path / "reuse"), images)
    seed = tf.constant(5, tf.int64)
    np.testing.assert_allclose(reused.sample_class(1, 3, seed), model.sample_class(1, 3, seed),
                               atol=1e-6)
    # each training image's step-I cluster, read back from the finished run (LASIUM's
    # lasium.cluster_images = real): what the restored clustering model says
    clusters = cola_steps.image_clusters(config, workdir, images)
    clustering, _ = cola_steps.cluster_images(config, workdir, images)  # finished: restores
    np.testing.assert_array_equal(clusters, clustering.clusters())
    assert clusters.shape == (len(images),) and set(clusters.tolist()) <= {0, 1}
    with pytest.raises(ConfigError, match="no COLA step-I clustering in"):
        cola_steps.image_clusters(config, str(tmp_path / "reuse"), images)
    with pytest.raises(ConfigError, match=f"clustered {len(images)} images, these training "
                                          f"images are {len(images) - 2}"):
        cola_steps.image_clusters(config, workdir, images[:-2])
    config.cola.cluster_epochs = 3
    with pytest.raises(ConfigError, match="stopped at step .*: finish that run first"):
        cola_steps.image_clusters(config, workdir, images)


def test_num_clusters_zero_is_the_training_class_count_of_a_fixed_split():
    """`cola.num_clusters = 0`: K = the training part's class count (the COLA paper's
    rule), filled in when a run starts (registry.complete_config) from the split's
    known sizes: no label is read; a split without fixed sizes is a clear error."""
    from fewgen_tf.generators import registry as generator_registry

    config = _config(num_clusters=0)
    config.data.name, config.data.split = "omniglot", "lake"
    pipelines.check_config(config)  # 0 is valid where it can be resolved
    generator_registry.complete_config(config)
    assert config.cola.num_clusters == 964 - 64
    config.cola.num_clusters, config.data.split = 0, "lasium"
    generator_registry.complete_config(config)
    assert config.cola.num_clusters == 1200
    config.cola.num_clusters, config.cola.train_split = 0, "val"
    generator_registry.complete_config(config)
    assert config.cola.num_clusters == 100
    config = _config(num_clusters=0)
    config.data.name = "mnist"
    with pytest.raises(ConfigError, match="cola.num_clusters = 0 .* Omniglot's lasium and "
                                          "lake splits only, not data.name 'mnist'"):
        pipelines.check_config(config)
    with pytest.raises(ConfigError, match="set cola.num_clusters"):
        generator_registry.complete_config(config)
    config.cola.num_clusters = 1
    with pytest.raises(ConfigError, match=r"cola.num_clusters must be an int >= 2 \(or 0"):
        pipelines.check_config(config)
