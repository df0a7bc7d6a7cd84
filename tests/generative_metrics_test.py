"""Generative metrics against hand computations and on tiny separable data:
Frechet distance (closed forms), the shared classifier (determinism), CAS / Mix, the
domain classification rate, the cached evaluation network, Inception SavedModel
loading (a fake model built here), fidelity / novelty / diversity and the reference
generators."""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf.config import add_generation_eval, base_config
from fewgen_tf.data import synthetic
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.generators.reference import CopySeeds, PixelBlend
from fewgen_tf.metrics import classifier as classifier_lib
from fewgen_tf.metrics import classifier_scores
from fewgen_tf.metrics import evaluation_network
from fewgen_tf.metrics import features
from fewgen_tf.metrics import frechet
from fewgen_tf.metrics import inception
from fewgen_tf.metrics import sample_scores
STEPS = 40  # classifier steps: enough for the quadrant data below


def quadrant_images(labels, seed, size=8, invert=False):
    """size x size grey images, dim noise with the quadrant `label` (0..3) bright."""
    labels = np.asarray(labels)
    noise = np.random.default_rng(seed).uniform(0.0, 0.3, (len(labels), size, size, 1))
    images = noise.astype(np.float32)
    h = size // 2
    for i, q in enumerate(labels):
        images[i, (q // 2) * h:(q // 2 + 1) * h, (q % 2) * h:(q % 2 + 1) * h] += 0.6
    return 1.0 - images if invert else images


def labelled(n, classes, seed, **kwargs):
    labels = (np.arange(n) % classes).astype(np.int32)
    return quadrant_images(labels, seed, **kwargs), labels


# ---------------------------------------------------------------------------------
# Frechet distance
# ---------------------------------------------------------------------------------

def test_frechet_distance_diagonal_closed_form():
    mu_a, mu_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet.frechet_distance_from_statistics(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_full_covariances_against_eigenvalues():
    r = np.random.default_rng(0)
    a, b = r.normal(size=(5, 5)), r.normal(size=(5, 5))
    sigma_a, sigma_b = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    mu_a, mu_b = r.normal(size=5), r.normal(size=5)
    # Tr (Sa Sb)^(1/2) = sum of square roots of the eigenvalues of Sa^(1/2) Sb Sa^(1/2).
    w, v = np.linalg.eigh(sigma_a)
    root_a = v @ np.diag(np.sqrt(w)) @ v.T
    trace_root = np.sum(np.sqrt(np.linalg.eigvalsh(root_a @ sigma_b @ root_a)))
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a + sigma_b) - 2 * trace_root
    got = frechet.frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b)
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_from_large_samples():
    r = np.random.default_rng(1)
    n = 40000
    a = r.normal(size=(n, 3)) * np.sqrt([1.0, 4.0, 0.25]) + [0.0, 0.0, 0.0]
    b = r.normal(size=(n, 3)) * np.sqrt([2.0, 1.0, 0.25]) + [1.0, 0.0, 0.5]
    expected = 1.0 + 0.25 + (1 - np.sqrt(2)) ** 2 + (2 - 1) ** 2
    assert frechet.frechet_distance(a, b) == pytest.approx(expected, abs=0.05)


def test_frechet_distance_identical_and_near_singular():
    x = np.random.default_rng(2).normal(size=(200, 16))
    assert abs(frechet.frechet_distance(x, x)) < 1e-6
    # Fewer samples than dimensions: singular covariances, still a finite number.
    few_a = np.random.default_rng(3).normal(size=(5, 10))
    few_b = np.random.default_rng(4).normal(size=(6, 10))
    value = frechet.frechet_distance(few_a, few_b)
    assert np.isfinite(value) and value > 0
    assert abs(frechet.frechet_distance(few_a, few_a)) < 1e-4


def test_frechet_distance_one_dimension():
    # N(1, 2^2) vs N(-1, 3^2): (1 - -1)^2 + (2 - 3)^2 = 5.
    assert frechet.frechet_distance_from_statistics([1.0], [[4.0]], [-1.0], [[9.0]]) == \
        pytest.approx(5.0)
    x = np.random.default_rng(5).normal(size=(30, 1))
    assert abs(frechet.frechet_distance(x, x)) < 1e-9


def test_frechet_distance_retries_with_offset_and_refuses_imaginary_roots(monkeypatch):
    sigma_a, sigma_b = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    calls, real_sqrtm = [], frechet.scipy.linalg.sqrtm

    def failing_once(product):
        calls.append(product)
        return np.full_like(product, np.nan) if len(calls) == 1 else real_sqrtm(product)

    monkeypatch.setattr(frechet.scipy.linalg, "sqrtm", failing_once)
    got = frechet.frechet_distance_from_statistics(np.zeros(2), sigma_a, np.zeros(2), sigma_b,
                                                      eps=1e-6)
    assert len(calls) == 2
    offset = 1e-6 * np.eye(2)
    np.testing.assert_allclose(calls[1], (sigma_a + offset) @ (sigma_b + offset))
    assert got == pytest.approx((1 - 3) ** 2 + (2 - 1) ** 2, abs=1e-5)

    def imaginary(product):
        return real_sqrtm(product) + 0.5j * np.eye(len(product))

    monkeypatch.setattr(frechet.scipy.linalg, "sqrtm", imaginary)
    with pytest.raises(DataError, match="imaginary part"):
        frechet.frechet_distance_from_statistics(np.zeros(2), sigma_a, np.zeros(2), sigma_b)

    monkeypatch.setattr(frechet.scipy.linalg, "sqrtm", lambda p: 1.1 * real_sqrtm(p))
    with pytest.raises(DataError, match="inaccurate"):
        frechet.frechet_distance_from_statistics(np.zeros(2), sigma_a, np.zeros(2), sigma_b)


def test_frechet_distance_bad_input():
    x = np.zeros((10, 4))
    with pytest.raises(DataError, match="dimensions differ"):
        frechet.frechet_distance(x, np.zeros((10, 5)))
    with pytest.raises(DataError, match="at least 2 samples"):
        frechet.frechet_distance(x, np.zeros((1, 4)))
    with pytest.raises(DataError, match=r"\[n, d\]"):
        frechet.frechet_distance(np.zeros(10), x)
    with pytest.raises(DataError, match="NaN"):
        frechet.frechet_distance(np.full((3, 4), np.nan), x)
    with pytest.raises(DataError, match="do not match"):
        frechet.frechet_distance_from_statistics(np.zeros(3), np.eye(3), np.zeros(3),
                                                    np.eye(2))


# ---------------------------------------------------------------------------------
# The shared classifier, CAS, Mix, domain classification rate
# ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quadrants():
    train_x, train_y = labelled(120, 3, seed=0)
    test_x, test_y = labelled(90, 3, seed=1)
    return train_x, train_y, test_x, test_y


def test_classifier_is_deterministic_and_leaves_global_state(quadrants):
    train_x, train_y, test_x, test_y = quadrants
    random.seed(123)
    python_state, numpy_state = random.getstate(), np.random.get_state()[1].copy()
    nets = [classifier_lib.train_classifier([(train_x, train_y)], 3, 10, seed=s,
                                            batch_size=16) for s in (5, 5, 6)]
    assert random.getstate() == python_state
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    logits = [net.logits(test_x) for net in nets]
    assert logits[0].shape == (90, 3) and logits[0].dtype == np.float32
    np.testing.assert_array_equal(logits[0], logits[1])
    assert not np.allclose(logits[0], logits[2])
    assert nets[0].features(test_x).shape == (90, 32)
    assert nets[0].predict(test_x).shape == (90,)
    with pytest.raises(DataError, match="shape"):
        nets[0].predict(np.zeros((2, 16, 16, 1), np.float32))


def test_classifier_conv4_backbone():
    train_x, train_y = labelled(60, 3, seed=0, size=16)
    test_x, test_y = labelled(30, 3, seed=1, size=16)
    net = classifier_lib.train_classifier([(train_x, train_y)], 3, 20, seed=0,
                                          backbone="conv4", filters=8)
    assert net.features(test_x).shape == (30, 8)  # 16 -> 8 -> 4 -> 2 -> 1, flattened
    assert net.accuracy(test_x, test_y) > 0.9


def test_classifier_bad_input(quadrants):
    train_x, train_y, _, _ = quadrants
    with pytest.raises(DataError, match="class indices"):
        classifier_lib.train_classifier([(train_x, train_y + 5)], 3, 1, seed=0)
    with pytest.raises(DataError, match="one label per image"):
        classifier_lib.train_classifier([(train_x, train_y[:-1])], 3, 1, seed=0)
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        classifier_lib.train_classifier([(train_x * 255, train_y)], 3, 1, seed=0)
    with pytest.raises(DataError, match="no images"):
        classifier_lib.train_classifier([(train_x[:0], train_y[:0])], 3, 1, seed=0)


def test_classification_accuracy_score(quadrants):
    train_x, train_y, test_x, test_y = quadrants
    correct = classifier_scores.classification_accuracy_score(train_x, train_y, test_x, test_y, 3,
                                                       STEPS, seed=0)
    assert correct > 0.9
    shuffled_labels = np.random.default_rng(7).permutation(train_y)
    shuffled = classifier_scores.classification_accuracy_score(train_x, shuffled_labels, test_x,
                                                        test_y, 3, STEPS, seed=0)
    assert shuffled < 0.6  # chance is 1/3
    # Every generated image of the wrong class: the score sees it.
    wrong = classifier_scores.classification_accuracy_score(train_x, (train_y + 1) % 3, test_x,
                                                     test_y, 3, STEPS, seed=0)
    assert wrong < 0.1
    with pytest.raises(DataError, match="shapes differ"):
        classifier_scores.classification_accuracy_score(train_x, train_y,
                                                 np.zeros((3, 16, 16, 1), np.float32),
                                                 np.zeros(3, np.int32), 3, 1, seed=0)


def test_mix_protocol(quadrants):
    train_x, train_y, test_x, test_y = quadrants
    generated_x, generated_y = labelled(60, 3, seed=9)
    result = classifier_scores.mix_protocol(train_x[:30], train_y[:30], generated_x, generated_y,
                                     test_x, test_y, 3, STEPS, seed=0)
    assert set(result) == {"real_only", "mix"}
    assert result["real_only"] > 0.9 and result["mix"] > 0.9
    with pytest.raises(DataError, match="generated_labels"):
        classifier_scores.mix_protocol(train_x, train_y, generated_x, generated_y[:5], test_x,
                                test_y, 3, 1, seed=0)


def test_domain_classification_rate():
    training_domain, _ = labelled(40, 4, seed=0)
    novel_domain, _ = labelled(40, 4, seed=1, invert=True)
    generated_novel, _ = labelled(20, 4, seed=2, invert=True)
    generated_training, _ = labelled(20, 4, seed=3)
    good = classifier_scores.domain_classification_rate(training_domain, novel_domain,
                                                 generated_novel, STEPS, seed=0)
    assert set(good) == {"rate", "classifier_accuracy"}
    assert good["classifier_accuracy"] > 0.9
    assert good["rate"] < 0.1
    bad = classifier_scores.domain_classification_rate(training_domain, novel_domain,
                                                generated_training, STEPS, seed=0)
    assert bad["rate"] > 0.9
    assert bad["classifier_accuracy"] == good["classifier_accuracy"]  # same classifier
    with pytest.raises(DataError, match="at least 2 real"):
        classifier_scores.domain_classification_rate(training_domain[:1], novel_domain,
                                              generated_novel, 1, seed=0)


# ---------------------------------------------------------------------------------
# The evaluation network and its cache
# ---------------------------------------------------------------------------------

def quadrant_dataset():
    arrays = [quadrant_images(np.full(10, c), seed=c) for c in range(4)]
    return ClassDataset.from_class_arrays("quad rants", arrays, [f"q{c}" for c in range(4)])


@pytest.fixture(scope="module")
def evaluation_setup(tmp_path_factory):
    cache = tmp_path_factory.mktemp("evaluation_networks")
    dataset = quadrant_dataset()
    net = evaluation_network.evaluation_network(dataset, str(cache), steps=STEPS, seed=0)
    return cache, dataset, net


def test_evaluation_network_trains_and_caches(evaluation_setup):
    cache, dataset, net = evaluation_setup
    entries = os.listdir(cache)
    assert len(entries) == 1 and not entries[0].startswith(".")  # no partial leftovers
    assert net.name == f"evaluation_network:{entries[0]}"
    assert entries[0].startswith("quad_rants-8x8x1-4classes-seed0-steps40-")
    info = json.loads((cache / entries[0] / "info.json").read_text())
    assert info["held_out_images"] == 4 and info["train_images"] == 36
    assert info["held_out_accuracy"] == net.held_out_accuracy
    assert info["backbone"] == "strided4"  # 8x8 images are too small for conv4
    assert 0.0 <= net.held_out_accuracy <= 1.0
    images = dataset.images
    assert net.features(images).shape == (40, 64)
    assert net.class_logits(images).shape == (40, 4)
    predictions = net.predict(images)
    assert predictions.min() >= 0 and predictions.max() < 4
    assert np.mean(predictions == dataset.labels) > 0.9


def test_holdout_split_is_per_class_and_disjoint():
    dataset = quadrant_dataset()
    train, held_out = evaluation_network.holdout_split(dataset, seed=0)
    assert len(np.intersect1d(train, held_out)) == 0
    assert len(train) + len(held_out) == 40
    np.testing.assert_array_equal(np.bincount(dataset.labels[held_out]), [1, 1, 1, 1])
    np.testing.assert_array_equal(evaluation_network.holdout_split(dataset, seed=0)[1], held_out)


def test_evaluation_network_reuses_cache(evaluation_setup, monkeypatch):
    cache, dataset, net = evaluation_setup
    (cache / ".someone.partial-abc").mkdir(exist_ok=True)  # a killed writer's leftovers

    def no_training(*args, **kwargs):
        raise AssertionError("the cached network should have been loaded")

    monkeypatch.setattr(classifier_lib, "train_classifier", no_training)
    again = evaluation_network.evaluation_network(dataset, str(cache), steps=STEPS, seed=0)
    assert again.name == net.name and again.info == net.info
    np.testing.assert_array_equal(again.features(dataset.images), net.features(dataset.images))
    np.testing.assert_array_equal(again.class_logits(dataset.images),
                                  net.class_logits(dataset.images))
    # The config factory finds the same cache entry.
    config = add_generation_eval(base_config())
    config.gen_eval.feature_cache = str(cache)
    config.gen_eval.evaluation_network_steps = STEPS
    assert features.make_feature_extractor(config.gen_eval, dataset).name == net.name
    # A different number of steps is a different network: it would train.
    with pytest.raises(AssertionError, match="should have been loaded"):
        evaluation_network.evaluation_network(dataset, str(cache), steps=STEPS + 1, seed=0)


def test_evaluation_network_key_depends_on_what_determines_the_weights():
    dataset = quadrant_dataset()
    key = evaluation_network.evaluation_network_key(dataset, 10, 0, filters=64)
    assert key == evaluation_network.evaluation_network_key(dataset, 10, 0, filters=64)
    assert key != evaluation_network.evaluation_network_key(dataset, 11, 0, filters=64)
    assert key != evaluation_network.evaluation_network_key(dataset, 10, 1, filters=64)
    assert key != evaluation_network.evaluation_network_key(dataset, 10, 0, filters=32)
    changed = ClassDataset.from_class_arrays(
        dataset.name, [dataset.class_images(c) * 0.5 for c in range(4)], dataset.class_names)
    assert key != evaluation_network.evaluation_network_key(changed, 10, 0, filters=64)


def test_evaluation_backbone():
    assert evaluation_network.evaluation_backbone((28, 28, 1), 64) == "conv4"    # 64 features
    assert evaluation_network.evaluation_backbone((32, 32, 3), 64) == "conv4"    # 256
    assert evaluation_network.evaluation_backbone((84, 84, 3), 64) == "strided4"  # conv4: 1600
    assert evaluation_network.evaluation_backbone((8, 8, 1), 64) == "strided4"   # too small


def test_cache_write_is_atomic(evaluation_setup, tmp_path, monkeypatch):
    _, _, net = evaluation_setup

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation_network.np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        evaluation_network._write_cache_atomically(str(tmp_path), "some-key", net.classifier, {})
    assert os.listdir(tmp_path) == []


def test_broken_cache_entry_is_a_clear_error(evaluation_setup, tmp_path):
    cache, dataset, _ = evaluation_setup
    entry = os.listdir(cache)
    entry = [e for e in entry if not e.startswith(".")][0]
    broken = tmp_path / entry
    broken.mkdir()
    (broken / "info.json").write_text("{not json")
    with pytest.raises(ConfigError, match="delete that directory"):
        evaluation_network.evaluation_network(dataset, str(tmp_path), steps=STEPS, seed=0)


def test_fidelity(evaluation_setup):
    _, dataset, net = evaluation_setup
    assert sample_scores.fidelity(net, dataset.class_images(2), 2) > 0.9
    assert sample_scores.fidelity(net, dataset.class_images(2), 0) < 0.1
    per_image = sample_scores.fidelity(net, dataset.images, dataset.labels)
    assert per_image > 0.9
    with pytest.raises(DataError, match="seed_class_indices"):
        sample_scores.fidelity(net, dataset.class_images(2), 4)


def test_frechet_distance_on_evaluation_network_features(evaluation_setup):
    _, dataset, net = evaluation_setup
    same = frechet.feature_frechet_distance(net, dataset.class_images(0),
                                               dataset.class_images(0))
    other = frechet.feature_frechet_distance(net, dataset.class_images(0),
                                                dataset.class_images(1))
    assert same["features"] == net.name
    assert abs(same["frechet_distance"]) < 1e-4 < other["frechet_distance"]


def test_make_feature_extractor_errors():
    config = add_generation_eval(base_config())
    config.gen_eval.features = "fid"
    with pytest.raises(ConfigError, match="unknown gen_eval.features 'fid'"):
        features.make_feature_extractor(config.gen_eval)
    config.gen_eval.features = "evaluation_network"
    with pytest.raises(ConfigError, match="needs the dataset"):
        features.make_feature_extractor(config.gen_eval)
    config.gen_eval.features = "inception"
    with pytest.raises(ConfigError, match="inception_path is empty"):
        features.make_feature_extractor(config.gen_eval)
    config.gen_eval.inception_path = "/nonexistent/inception_v3"
    with pytest.raises(ConfigError, match="does not exist"):
        features.make_feature_extractor(config.gen_eval)


# ---------------------------------------------------------------------------------
# Inception features from a SavedModel (a fake one, built here: nothing is downloaded)
# ---------------------------------------------------------------------------------

PROJECTION = np.arange(24, dtype=np.float32).reshape(3, 8) / 10.0
IMAGE_SPEC = tf.TensorSpec([None, 299, 299, 3], tf.float32)


class FakeInception(tf.Module):
    """Spatial mean of the image times a 3 x 8 matrix: [n, 299, 299, 3] -> [n, 8]."""

    def __init__(self):
        super().__init__()
        self.projection = tf.Variable(PROJECTION)

    @tf.function(input_signature=[IMAGE_SPEC])
    def __call__(self, images):
        # float64 sum: TF's float32 reduce_mean over 299 x 299 values is off by ~1e-3.
        mean = tf.cast(tf.reduce_mean(tf.cast(images, tf.float64), axis=[1, 2]), tf.float32)
        return mean @ self.projection

    @tf.function(input_signature=[IMAGE_SPEC])
    def serve(self, images):
        return {"pool_3": self(images)}

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32)])
    def encode(self, codes):
        return {"codes": codes * 2.0}


class NotCallable(tf.Module):
    def __init__(self):
        super().__init__()
        self.scale = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32)])
    def encode(self, codes):
        return {"codes": codes * self.scale}


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    model = FakeInception()
    tf.saved_model.save(model, str(root / "serving"), signatures={"serving_default": model.serve})
    tf.saved_model.save(model, str(root / "call_only"), signatures={"encode": model.encode})
    tf.saved_model.save(model, str(root / "wrong_input"),
                        signatures={"serving_default": model.encode})
    other = NotCallable()
    tf.saved_model.save(other, str(root / "no_signature"), signatures={"encode": other.encode})
    return root


@pytest.mark.parametrize("directory, entry_point", [("serving", "serving_default"),
                                                   ("call_only", "__call__")])
def test_inception_features_from_saved_model(saved_models, directory, entry_point):
    path = str(saved_models / directory)
    extractor = inception.InceptionFeatures(path, batch_size=2)
    assert extractor.name == f"inception_v3:{path}"
    assert extractor.entry_point == entry_point and extractor.feature_dim == 8
    # Constant images: resizing keeps the value, so the features are (r, g, b) @ P.
    grey = np.array([0.0, 0.25, 1.0], np.float32)[:, None, None, None] * np.ones((1, 8, 8, 1),
                                                                               np.float32)
    np.testing.assert_allclose(extractor.features(grey),
                               np.repeat(grey[:, :1, 0, 0], 3, axis=1) @ PROJECTION, atol=1e-5)
    colours = np.array([[0.1, 0.5, 0.9], [1.0, 0.0, 0.3]], np.float32)
    rgb = colours[:, None, None, :] * np.ones((1, 5, 7, 3), np.float32)
    np.testing.assert_allclose(extractor.features(rgb), colours @ PROJECTION, atol=1e-5)
    result = frechet.feature_frechet_distance(extractor, grey, rgb[:2])
    assert result["features"] == extractor.name and np.isfinite(result["frechet_distance"])


def test_inception_features_errors(saved_models, tmp_path):
    with pytest.raises(ConfigError, match="no serving_default signature.*encode"):
        inception.InceptionFeatures(str(saved_models / "no_signature"))
    with pytest.raises(ConfigError, match=r"serving_default signature takes codes: "
                                          r"float32\[None, 8\]"):
        inception.InceptionFeatures(str(saved_models / "wrong_input"))
    with pytest.raises(ConfigError, match="does not exist"):
        inception.InceptionFeatures(str(tmp_path / "missing"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a SavedModel directory"):
        inception.InceptionFeatures(str(tmp_path / "file"))
    with pytest.raises(ConfigError, match="cannot load"):
        inception.InceptionFeatures(str(tmp_path))
    extractor = inception.InceptionFeatures(str(saved_models / "serving"))
    with pytest.raises(DataError, match="1 or 3 channels"):
        extractor.features(np.zeros((1, 8, 8, 2), np.float32))


# ---------------------------------------------------------------------------------
# Novelty, diversity and the reference generators
# ---------------------------------------------------------------------------------

def constant_images(*values, shape=(4, 4, 1)):
    return np.stack([np.full(shape, v, np.float32) for v in values])


def test_novelty_and_diversity_by_hand():
    seeds = constant_images(0.0)
    unseen = constant_images(0.5)
    assert sample_scores.novelty(constant_images(0.25), seeds, unseen) == pytest.approx(0.5)
    assert sample_scores.diversity(constant_images(0.0, 1.0)) == pytest.approx(1.0)
    assert sample_scores.diversity(constant_images(0.0, 0.5, 1.0)) == pytest.approx(2.0 / 3.0)
    np.testing.assert_allclose(sample_scores.pixel_distances(constant_images(0.0, 1.0),
                                                          constant_images(0.5)), [[0.5], [0.5]])


def test_novelty_and_diversity_errors():
    images = constant_images(0.1, 0.2)
    with pytest.raises(DataError, match="no images"):
        sample_scores.novelty(images[:0], images, images)
    with pytest.raises(DataError, match="shapes differ"):
        sample_scores.novelty(images, images, constant_images(0.3, shape=(5, 5, 1)))
    with pytest.raises(DataError, match="identical to seed images"):
        sample_scores.novelty(images, images, images[:1])
    with pytest.raises(DataError, match="at least 2"):
        sample_scores.diversity(images[:1])
    with pytest.raises(DataError, match="NHWC"):
        sample_scores.diversity(images[..., 0])


@pytest.fixture(scope="module")
def glyph_class():
    images = synthetic.make_synthetic(num_classes=1, images_per_class=15, image_size=16).images
    return images[:5], images[5:]  # seeds, real unseen


def test_copy_seeds(glyph_class):
    seeds, unseen = glyph_class
    copies = CopySeeds().generate(seeds, 12, seed=3).numpy()
    assert copies.shape == (12,) + seeds.shape[1:] and copies.dtype == np.float32
    assert sample_scores.novelty(copies, seeds, unseen) == 0.0
    np.testing.assert_array_equal(copies, CopySeeds().generate(seeds, 12, seed=3).numpy())
    assert not np.array_equal(copies, CopySeeds().generate(seeds, 12, seed=4).numpy())
    # Cycling: every seed appears, 12 = 2 * 5 + 2 times.
    counts = sorted(int(np.sum(np.all(copies == s, axis=(1, 2, 3)))) for s in seeds)
    assert counts == [2, 2, 2, 3, 3]
    one_seed = CopySeeds().generate(seeds[:1], 6, seed=0).numpy()
    assert sample_scores.diversity(one_seed) == 0.0


def test_pixel_blend(glyph_class):
    seeds, unseen = glyph_class
    blends = PixelBlend().generate(seeds, 16, seed=12).numpy()
    np.testing.assert_array_equal(blends, PixelBlend().generate(seeds, 16, seed=12).numpy())
    copy_novelty = sample_scores.novelty(CopySeeds().generate(seeds, 16, 0).numpy(), seeds, unseen)
    blend_novelty = sample_scores.novelty(blends, seeds, unseen)
    noise = np.random.default_rng(0).uniform(size=(16,) + seeds.shape[1:]).astype(np.float32)
    noise_novelty = sample_scores.novelty(noise, seeds, unseen)
    assert copy_novelty == 0.0 < blend_novelty < 1.0 < noise_novelty
    assert sample_scores.diversity(blends) > 0.0
    # Two seeds, all 0 and all 1: every blend is a constant alpha or 1 - alpha in range.
    extremes = constant_images(0.0, 1.0)
    values = PixelBlend((0.2, 0.8)).generate(extremes, 50, seed=0).numpy()
    assert np.all(values.min(axis=(1, 2, 3)) == values.max(axis=(1, 2, 3)))
    assert values.min() >= 0.2 - 1e-6 and values.max() <= 0.8 + 1e-6
    with pytest.raises(ConfigError, match="alpha_range"):
        PixelBlend((0.5, 1.5))
