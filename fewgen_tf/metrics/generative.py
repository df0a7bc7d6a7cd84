"""Measurements of few-shot image generators (COLA, AugIntAE, Meta-FAVAE).

Everything here takes and returns numpy arrays, images float32 NHWC in [0, 1], and is
a deterministic function of its inputs and `seed`. Bad input (empty sets, mismatched
shapes, pixels outside [0, 1]) raises `DataError`; a bad config value `ConfigError`.

Frechet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule
  converge to a local Nash equilibrium"): the distance between two Gaussians fitted
  to features of two image sets. It is "FID" ONLY with the features of the standard
  Inception-v3 pool3 layer (`InceptionFeatures` given that model). With any other
  features, e.g. the `EvaluationNetwork` trained here because the Inception weights
  cannot be downloaded, it is a Frechet distance on those features, must be reported
  with the extractor's `name`, and is not comparable with published FIDs.
Feature extractors: anything with `name: str` and `features(images) -> [n, d]`.
  `make_feature_extractor(config.gen_eval, dataset)` picks one by `gen_eval.features`.
Classification Accuracy Score and the Mix protocol (Ravuri & Vinyals 2019,
  "Classification Accuracy Score for Conditional Generative Models"; used by COLA):
  a classifier trained on generated images only and tested on real ones; Mix trains
  the same classifier on batches that are half real, half generated.
Domain classification rate (AugIntAE, Table 2): the share of images generated for
  novel classes that a real-data classifier assigns to the TRAINING domain.
Few-shot generation quality: `fidelity` (does the evaluation network name the seed
  class?), `novelty` (how far from the seeds, relative to real new images) and
  `diversity` (how different the images of one seed set are), with two reference
  generators, `generators.reference.CopySeeds` and `PixelBlend`, that bracket what these numbers mean.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings

import numpy as np
import scipy.linalg
import tensorflow as tf
from absl import logging

from fewgen_tf.data import rng
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.nets import backbones
from fewgen_tf.metrics import classifier as classifier_lib
from fewgen_tf.metrics.classifier import check_images, check_labels

# ---------------------------------------------------------------------------------
# Frechet distance
# ---------------------------------------------------------------------------------

# The matrix square root is retried with `eps * I` added to both covariances when the
# first result is not finite or does not square back to the product (relative
# Frobenius residual above SQRTM_RESIDUAL), i.e. when the product is (near) singular.
SQRTM_RESIDUAL = 1e-5
MAX_SQRTM_RESIDUAL = 1e-3  # after the retry: a worse root would give a wrong trace
# The square root of a product of two PSD matrices has a real spectrum; an imaginary
# part is rounding noise unless it exceeds this fraction of the largest diagonal entry
# (or of 1, whichever is larger: the reference code's absolute 1e-3 for small features).
MAX_RELATIVE_IMAGINARY = 1e-3


def feature_statistics(features, what: str = "features"):
    """(mean [d], covariance [d, d]) in float64; covariance with ddof=1, as np.cov and
    the reference FID code (TTUR) compute it."""
    x = np.asarray(features)
    if x.ndim != 2:
        raise DataError(f"{what}: expected a [n, d] feature matrix, got shape {x.shape}")
    if x.shape[0] < 2:
        raise DataError(f"{what}: a covariance needs at least 2 samples, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise DataError(f"{what}: features have no dimensions")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{what}: features contain NaN or infinite values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _matrix_sqrt(product):
    """(sqrtm(product), relative Frobenius residual ||root^2 - product|| / ||product||).
    SciPy's singular-matrix warning is silenced: the residual is checked here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(product)
    if not np.all(np.isfinite(root)):
        return root, np.inf
    norm = np.linalg.norm(product)
    residual = np.linalg.norm(root @ root - product) / norm if norm > 0 else 0.0
    return root, residual


def frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(sigma_a + sigma_b - 2 (sigma_a sigma_b)^(1/2)).

    The Frechet (2-Wasserstein) distance between N(mu_a, sigma_a) and N(mu_b, sigma_b)
    (Heusel et al. 2017). The square root follows the reference code: scipy's sqrtm,
    retried with `eps * I` added to both covariances when the product is near-singular,
    then the real part, refusing (DataError) a result whose imaginary part is not noise.
    The value is returned as computed, not clipped at 0: for identical inputs it is 0 up
    to rounding (about 1e-7 either side with singular covariances).
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    sigma_a = np.atleast_2d(np.asarray(sigma_a, np.float64))
    sigma_b = np.atleast_2d(np.asarray(sigma_b, np.float64))
    d = mu_a.shape[0] if mu_a.ndim == 1 else -1
    if (mu_a.ndim != 1 or mu_b.shape != mu_a.shape or sigma_a.shape != (d, d)
            or sigma_b.shape != (d, d)):
        raise DataError(f"Frechet distance: means and covariances do not match: mu_a "
                        f"{mu_a.shape}, sigma_a {sigma_a.shape}, mu_b {mu_b.shape}, "
                        f"sigma_b {sigma_b.shape}")
    root, residual = _matrix_sqrt(sigma_a @ sigma_b)
    if not residual <= SQRTM_RESIDUAL:
        offset = eps * np.eye(d)
        logging.info("Frechet distance: sqrtm residual %.3g; retrying with %g * I added to "
                     "both covariances", residual, eps)
        root, residual = _matrix_sqrt((sigma_a + offset) @ (sigma_b + offset))
        if not np.all(np.isfinite(root)):
            raise DataError("Frechet distance: the covariance product has no finite square "
                            "root even with an eps * I offset; features are degenerate")
    if np.iscomplexobj(root):
        imaginary = float(np.max(np.abs(np.diagonal(root).imag)))
        scale = max(1.0, float(np.max(np.abs(np.diagonal(root).real))))
        if imaginary > MAX_RELATIVE_IMAGINARY * scale:
            raise DataError(f"Frechet distance: the covariance product's square root has an "
                            f"imaginary part of {imaginary:.3g} (scale {scale:.3g}); the "
                            "features are degenerate (too few samples for their dimension?)")
        root = root.real
    if not residual <= MAX_SQRTM_RESIDUAL:
        raise DataError(f"Frechet distance: the covariance product's square root is "
                        f"inaccurate (relative residual {residual:.3g}) even with an eps * I "
                        "offset; the features are degenerate")
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(root))


def frechet_distance(features_a, features_b) -> float:
    """Frechet distance between Gaussians fitted to two [n, d] feature sets (n >= 2)."""
    mu_a, sigma_a = feature_statistics(features_a, "features_a")
    mu_b, sigma_b = feature_statistics(features_b, "features_b")
    if mu_a.shape != mu_b.shape:
        raise DataError(f"Frechet distance: feature dimensions differ ({mu_a.shape[0]} vs "
                        f"{mu_b.shape[0]})")
    return frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b)


def feature_frechet_distance(extractor, images_a, images_b) -> dict:
    """{"frechet_distance": float, "features": extractor.name}: the number together with
    the name of the features it was measured on, the form results are recorded in."""
    return {"frechet_distance": frechet_distance(extractor.features(images_a),
                                                 extractor.features(images_b)),
            "features": extractor.name}


# ---------------------------------------------------------------------------------
# Evaluation network: a classifier over ALL of a dataset's classes, cached on disk
# ---------------------------------------------------------------------------------

EVALUATION_NETWORK_VERSION = 1
HOLDOUT_FRACTION = 0.1   # of each class's images, never trained on, for the accuracy
MAX_CONV4_FEATURES = 256  # above this the evaluation network uses strided4 (see below)


def evaluation_backbone(image_shape, filters: int) -> str:
    """conv4 (max-pooled blocks, flattened) where its features have 1..256 dimensions,
    i.e. images of 16 to 47 pixels (28x28 Omniglot / MNIST: 64 features); otherwise
    strided4 (`filters` features at any size). conv4 is the better classifier (Omniglot,
    1623 classes, 2000 steps: 70% held-out accuracy against 54% for strided4), but a
    Frechet distance needs comfortably more images than feature dimensions, and conv4
    flattens 84x84 images to 1600."""
    dim = backbones.feature_dim("conv4", tuple(image_shape), int(filters))
    return "conv4" if 0 < dim <= MAX_CONV4_FEATURES else "strided4"


class EvaluationNetwork:
    """A classifier trained once per dataset on all its classes; a feature extractor
    (its penultimate features) and the judge of `fidelity` (its class predictions).

    It is a measuring instrument: it sees the novel classes the generators are
    evaluated on (it must name them), so it must never be used to train a generator.
    `info` holds how it was made and `info["held_out_accuracy"]`, its accuracy on the
    `HOLDOUT_FRACTION` of each class's images it was not trained on.
    """

    def __init__(self, classifier, name: str, info: dict):
        self.classifier, self.name, self.info = classifier, name, dict(info)

    @property
    def num_classes(self) -> int:
        return self.classifier.num_classes

    @property
    def held_out_accuracy(self):
        return self.info["held_out_accuracy"]

    def features(self, images) -> np.ndarray:
        """[n, d] float32 penultimate features."""
        return self.classifier.features(images)

    def class_logits(self, images) -> np.ndarray:
        """[n, num_classes] float32 logits over ALL the dataset's classes."""
        return self.classifier.logits(images)

    def predict(self, images) -> np.ndarray:
        """[n] int64 indices among ALL the dataset's classes."""
        return self.classifier.predict(images)


def holdout_split(dataset, seed: int, fraction: float = HOLDOUT_FRACTION):
    """(train indices, held-out indices) into `dataset.images`: from each class with at
    least 2 images, round(fraction * n_c) images (at least 1) chosen by a permutation
    keyed by (seed, the class's stable `class_keys` entry); classes of 1 image are
    trained on only."""
    train, held_out = [], []
    for c in range(dataset.num_classes):
        start, size = int(dataset.class_starts[c]), int(dataset.class_sizes[c])
        count = 0 if size < 2 else min(size - 1, max(1, int(round(fraction * size))))
        order = start + rng.permutation(
            rng.derive_key(int(seed), "evaluation-holdout", str(dataset.class_keys[c])), size)
        held_out.append(np.sort(order[:count]))
        train.append(np.sort(order[count:]))
    return np.concatenate(train).astype(np.int64), np.concatenate(held_out).astype(np.int64)


def _dataset_fingerprint(dataset) -> str:
    """A digest of the pixels, labels and class keys: two loaders or versions that give
    different data never share a cached network."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(np.ascontiguousarray(dataset.images).tobytes())
    digest.update(np.ascontiguousarray(dataset.labels, np.int64).tobytes())
    digest.update(repr(tuple(dataset.class_keys)).encode())
    return digest.hexdigest()


def evaluation_network_key(dataset, steps: int, seed: int, **options) -> str:
    """The cache directory name: readable parts (dataset name, image shape, class count,
    seed, steps) and a digest of everything else that determines the weights (the data
    itself, the classifier options, the hold-out fraction, this code's version)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset.name) or "dataset"
    shape = "x".join(str(s) for s in dataset.image_shape)
    settings = json.dumps(dict(options, fingerprint=_dataset_fingerprint(dataset),
                               holdout_fraction=HOLDOUT_FRACTION,
                               version=EVALUATION_NETWORK_VERSION), sort_keys=True)
    digest = hashlib.blake2b(settings.encode(), digest_size=6).hexdigest()
    return (f"{name}-{shape}-{dataset.num_classes}classes-seed{int(seed)}-steps{int(steps)}"
            f"-{digest}")


def _load_cached(directory, dataset, options):
    try:
        with open(os.path.join(directory, "info.json")) as f:
            info = json.load(f)
        variables = info.pop("variables")  # storage detail, not part of `info`
        with np.load(os.path.join(directory, "weights.npz")) as stored:
            arrays = {path: stored[f"w{i}"] for i, path in enumerate(variables)}
        net = classifier_lib.Classifier(dataset.image_shape, dataset.num_classes,
                                        options["filters"], options["backbone"])
        net.load_weight_arrays(arrays)
    except (OSError, KeyError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"the cached evaluation network {directory} is unreadable "
                          f"({reason}); delete that directory to retrain it") from None
    return net, info


def _write_cache_atomically(cache_dir, key, net, info):
    """Write into a private temporary directory beside the cache entry, then rename it
    into place: a reader sees either no entry or a complete one, never a partial one."""
    final = os.path.join(cache_dir, key)
    temporary = tempfile.mkdtemp(prefix=f".{key}.partial-", dir=cache_dir)
    try:
        arrays = net.weight_arrays()
        info = dict(info, variables=list(arrays))
        with open(os.path.join(temporary, "weights.npz"), "wb") as f:
            np.savez(f, **{f"w{i}": a for i, a in enumerate(arrays.values())})
        with open(os.path.join(temporary, "info.json"), "w") as f:
            json.dump(info, f, indent=2, sort_keys=True)
            f.write("\n")
        try:
            os.rename(temporary, final)
        except OSError:
            if not os.path.isdir(final):
                raise
            # Another process finished the same network first: keep its copy.
            shutil.rmtree(temporary, ignore_errors=True)
            return False
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return True


def evaluation_network(dataset, cache_dir: str, steps: int, seed: int = 0, *,
                       filters: int = 64, batch_size: int = 64, learning_rate: float = 1e-3,
                       backbone: str = None) -> EvaluationNetwork:
    """The evaluation network of `dataset` (a ClassDataset), loaded from
    `<cache_dir>/<evaluation_network_key(...)>/` or, when absent, trained (the shared
    small classifier, `steps` Adam steps from `seed`, on all but the held-out
    `HOLDOUT_FRACTION` of each class) and cached atomically (weights.npz + info.json
    with the held-out accuracy). `backbone` None: `evaluation_backbone(...)`."""
    if dataset.num_classes < 2 or len(dataset.images) == 0:
        raise DataError(f"{dataset.name}: an evaluation network needs at least 2 classes "
                        f"with images, got {dataset.num_classes} classes")
    if not cache_dir:
        raise ConfigError("gen_eval.feature_cache is empty: give a directory for the "
                          "evaluation networks")
    backbone = backbone or evaluation_backbone(dataset.image_shape, filters)
    options = dict(filters=int(filters), backbone=backbone, batch_size=int(batch_size),
                   learning_rate=float(learning_rate))
    key = evaluation_network_key(dataset, steps, seed, **options)
    directory = os.path.join(os.path.expanduser(cache_dir), key)
    name = f"evaluation_network:{key}"
    if os.path.isdir(directory):
        net, info = _load_cached(directory, dataset, options)
        logging.info("evaluation network loaded from %s (held-out accuracy %s)", directory,
                     info.get("held_out_accuracy"))
        return EvaluationNetwork(net, name, info)

    train_index, held_out_index = holdout_split(dataset, seed)
    logging.info("training the evaluation network %s: %d classes, %d training / %d held-out "
                 "images, %d steps", key, dataset.num_classes, len(train_index),
                 len(held_out_index), steps)
    net = classifier_lib.train_classifier(
        [(dataset.images[train_index], dataset.labels[train_index])], dataset.num_classes,
        steps, seed, batch_size=options["batch_size"],
        learning_rate=options["learning_rate"], filters=options["filters"],
        backbone=options["backbone"])
    accuracy = (net.accuracy(dataset.images[held_out_index], dataset.labels[held_out_index])
                if len(held_out_index) else None)
    info = dict(options, dataset=dataset.name, image_shape=list(dataset.image_shape),
                num_classes=dataset.num_classes, seed=int(seed), steps=int(steps),
                train_images=int(len(train_index)), held_out_images=int(len(held_out_index)),
                holdout_fraction=HOLDOUT_FRACTION, held_out_accuracy=accuracy,
                fingerprint=_dataset_fingerprint(dataset), version=EVALUATION_NETWORK_VERSION)
    logging.info("evaluation network %s: held-out accuracy %s", key, accuracy)
    os.makedirs(os.path.expanduser(cache_dir), exist_ok=True)
    if not _write_cache_atomically(os.path.expanduser(cache_dir), key, net, info):
        net, info = _load_cached(directory, dataset, options)
    return EvaluationNetwork(net, name, info)


# ---------------------------------------------------------------------------------
# Inception-v3 features from a SavedModel / hub handle (never downloaded here)
# ---------------------------------------------------------------------------------

INCEPTION_SIZE = 299
# Output names tried, in order, when a signature returns several tensors.
POOLED_OUTPUT_NAMES = ("pool_3", "pool3", "pool", "avg_pool", "feature_vector", "default",
                       "output_0")


class InceptionFeatures:
    """Pooled features of an Inception-v3 SavedModel directory or TF-Hub handle.

    The model must map float32 images [n, 299, 299, 3] with values in [0, 1] (the
    TF-Hub image convention; `input_range` maps [0, 1] linearly onto another range
    for models that expect one, e.g. (-1, 1)) to pooled features [n, d] (or
    [n, 1, 1, d]). Its `serving_default` signature is used when present, otherwise the
    object's own `__call__` (TF2 hub feature-vector modules). Images are resized to
    299 x 299 with bilinear interpolation and grey images repeated to 3 channels.
    Loaded with `tf.saved_model.load` / `tensorflow_hub.load`, never `hub.KerasLayer`
    (a tf-keras layer that breaks under Keras 3). Only with the standard Inception-v3
    pool3 weights is the Frechet distance on these features "FID".
    """

    def __init__(self, path_or_handle: str, batch_size: int = 32, input_range=(0.0, 1.0)):
        handle = os.path.expanduser(str(path_or_handle or ""))
        if not handle:
            raise ConfigError("gen_eval.inception_path is empty: give an Inception-v3 "
                              "SavedModel directory or TF-Hub handle")
        remote = "://" in handle
        if not remote and not os.path.exists(handle):
            raise ConfigError(f"Inception model {handle!r} does not exist")
        if not remote and not os.path.isdir(handle):
            raise ConfigError(f"Inception model {handle!r} is not a SavedModel directory")
        try:
            if remote:
                import tensorflow_hub as hub

                self.module = hub.load(handle)
            else:
                self.module = tf.saved_model.load(handle)
        except (OSError, ValueError, tf.errors.OpError) as e:
            raise ConfigError(f"cannot load the Inception model {handle!r}: "
                              f"{str(e).strip().splitlines()[0]}") from None
        self.handle, self.batch_size = handle, int(batch_size)
        self.low, self.high = (float(v) for v in input_range)
        self.name = f"inception_v3:{handle}"
        self._call, self.entry_point = self._find_callable()
        probe = self._call(tf.zeros([1, INCEPTION_SIZE, INCEPTION_SIZE, 3], tf.float32))
        self._output_name = self._choose_output(probe)
        self.feature_dim = int(self._pooled(probe).shape[-1])

    def _find_callable(self):
        signatures = dict(getattr(self.module, "signatures", None) or {})
        expected = (f"expected a 'serving_default' signature or a __call__ taking float32 "
                    f"images [n, {INCEPTION_SIZE}, {INCEPTION_SIZE}, 3] in [0, 1] and "
                    "returning pooled features [n, d]")
        if "serving_default" in signatures:
            function = signatures["serving_default"]
            inputs = function.structured_input_signature[1]
            specs = list(inputs.values())
            if len(specs) != 1 or not _is_image_spec(specs[0]):
                raise ConfigError(f"{self.handle!r}: its serving_default signature takes "
                                  f"{_describe_inputs(inputs)}; {expected}")
            input_name = list(inputs)[0]
            return (lambda x: function(**{input_name: x})), "serving_default"
        if callable(self.module):
            def call(x):
                try:
                    return self.module(x)
                except (TypeError, ValueError) as e:
                    raise ConfigError(f"{self.handle!r}: calling the model on images [n, "
                                      f"{INCEPTION_SIZE}, {INCEPTION_SIZE}, 3] failed "
                                      f"({str(e).strip().splitlines()[0]}); {expected}") from None
            return call, "__call__"
        found = ", ".join(f"{k}({_describe_inputs(v.structured_input_signature[1])})"
                          for k, v in sorted(signatures.items())) or "no signatures"
        raise ConfigError(f"{self.handle!r} has no serving_default signature and is not "
                          f"callable (found: {found}); {expected}")

    def _choose_output(self, outputs):
        if not isinstance(outputs, dict):
            return None
        if len(outputs) == 1:
            return next(iter(outputs))
        for name in POOLED_OUTPUT_NAMES:
            if name in outputs:
                return name
        raise ConfigError(f"{self.handle!r} returns several outputs "
                          f"({', '.join(sorted(outputs))}) and none is named like pooled "
                          f"features ({', '.join(POOLED_OUTPUT_NAMES)})")

    def _pooled(self, outputs):
        value = outputs[self._output_name] if self._output_name is not None else outputs
        value = tf.convert_to_tensor(value)
        if value.shape.rank == 4 and value.shape[1] == 1 and value.shape[2] == 1:
            value = tf.reshape(value, [-1, value.shape[-1]])
        if value.shape.rank != 2:
            raise ConfigError(f"{self.handle!r} returns features of shape {value.shape}; "
                              "expected pooled features [n, d]")
        return value

    def features(self, images) -> np.ndarray:
        """[n, d] float32 pooled features, in batches of `batch_size`."""
        images = check_images(images)
        if images.shape[-1] not in (1, 3):
            raise DataError(f"Inception features need 1 or 3 channels, got {images.shape[-1]}")
        out = []
        for start in range(0, len(images), self.batch_size):
            x = tf.constant(images[start:start + self.batch_size])
            x = tf.image.resize(x, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
            if x.shape[-1] == 1:
                x = tf.repeat(x, 3, axis=-1)
            x = self.low + (self.high - self.low) * x
            out.append(np.asarray(self._pooled(self._call(x)), np.float32))
        return np.concatenate(out)


def _is_image_spec(spec):
    shape = getattr(spec, "shape", None)
    if shape is None or shape.rank != 4 or getattr(spec, "dtype", None) != tf.float32:
        return False
    return all(dim in (None, want) for dim, want in
               zip(shape[1:], (INCEPTION_SIZE, INCEPTION_SIZE, 3)))


def _describe_inputs(inputs):
    """'name: float32[None, 8], ...' for a signature's input specs."""
    described = []
    for name, spec in sorted(inputs.items()):
        dtype = getattr(getattr(spec, "dtype", None), "name", "?")
        shape = list(spec.shape) if getattr(spec, "shape", None) is not None else "?"
        described.append(f"{name}: {dtype}{shape}")
    return ", ".join(described) or "no inputs"


FEATURE_EXTRACTORS = ("evaluation_network", "inception")


def make_feature_extractor(gen_eval_config, dataset=None):
    """The feature extractor named by `gen_eval.features`:
    "evaluation_network" -> `evaluation_network(dataset, gen_eval.feature_cache,
        gen_eval.evaluation_network_steps, gen_eval.evaluation_network_seed or 0)`
        (the seed is fixed apart from `gen_eval.seed`, so changing the evaluation tasks
        does not change the yardstick);
    "inception" -> `InceptionFeatures(gen_eval.inception_path)`."""
    kind = gen_eval_config.features
    if kind == "evaluation_network":
        if dataset is None:
            raise ConfigError("gen_eval.features=evaluation_network needs the dataset whose "
                              "classes it learns")
        return evaluation_network(dataset, gen_eval_config.feature_cache,
                                  gen_eval_config.evaluation_network_steps,
                                  seed=int(gen_eval_config.get("evaluation_network_seed", 0)))
    if kind == "inception":
        return InceptionFeatures(gen_eval_config.inception_path)
    raise ConfigError(f"unknown gen_eval.features {kind!r}; valid: "
                      f"{', '.join(FEATURE_EXTRACTORS)}")


# ---------------------------------------------------------------------------------
# Classifier-based scores: CAS, Mix, domain classification rate
# ---------------------------------------------------------------------------------

def _check_same_shape(named_images):
    shapes = {name: images.shape[1:] for name, images in named_images}
    if len(set(shapes.values())) != 1:
        raise DataError("image shapes differ: " + ", ".join(
            f"{name} {shape}" for name, shape in shapes.items()))


def classification_accuracy_score(generated_images, generated_labels, test_images,
                                  test_labels, num_classes: int, steps: int, seed: int,
                                  **classifier_options) -> float:
    """CAS (Ravuri & Vinyals 2019): accuracy on REAL test images of the shared small
    classifier trained on GENERATED images only. A generator whose class-conditional
    samples carry the class scores like real data; one that ignores the class scores
    chance. `classifier_options` go to `classifier.train_classifier`."""
    generated_images = check_images(generated_images, "generated_images")
    generated_labels = check_labels(generated_labels, len(generated_images), num_classes,
                                    "generated_labels")
    test_images = check_images(test_images, "test_images")
    test_labels = check_labels(test_labels, len(test_images), num_classes, "test_labels")
    _check_same_shape([("generated_images", generated_images), ("test_images", test_images)])
    net = classifier_lib.train_classifier([(generated_images, generated_labels)], num_classes,
                                          steps, seed, **classifier_options)
    return net.accuracy(test_images, test_labels)


def mix_protocol(real_images, real_labels, generated_images, generated_labels, test_images,
                 test_labels, num_classes: int, steps: int, seed: int,
                 **classifier_options) -> dict:
    """The Mix protocol (data augmentation by a generator; Ravuri & Vinyals 2019, COLA):
    {"real_only": accuracy trained on real images, "mix": accuracy trained on batches
    that are 50% real, 50% generated}, both on the real test images. The two runs share
    the classifier, its initial weights (`seed`), optimiser, batch size and number of
    steps, so the difference is the generated data alone."""
    real_images = check_images(real_images, "real_images")
    real_labels = check_labels(real_labels, len(real_images), num_classes, "real_labels")
    generated_images = check_images(generated_images, "generated_images")
    generated_labels = check_labels(generated_labels, len(generated_images), num_classes,
                                    "generated_labels")
    test_images = check_images(test_images, "test_images")
    test_labels = check_labels(test_labels, len(test_images), num_classes, "test_labels")
    _check_same_shape([("real_images", real_images), ("generated_images", generated_images),
                       ("test_images", test_images)])
    real_only = classifier_lib.train_classifier([(real_images, real_labels)], num_classes,
                                                steps, seed, **classifier_options)
    mix = classifier_lib.train_classifier(
        [(real_images, real_labels), (generated_images, generated_labels)], num_classes,
        steps, seed, **classifier_options)
    return {"real_only": real_only.accuracy(test_images, test_labels),
            "mix": mix.accuracy(test_images, test_labels)}


DOMAIN_HOLDOUT_FRACTION = 0.2
TRAINING_DOMAIN, NOVEL_DOMAIN = 0, 1


def domain_classification_rate(training_domain_images, novel_domain_images, generated_images,
                               steps: int, seed: int, **classifier_options) -> dict:
    """AugIntAE's Table 2: does a generator fed novel-class seeds stay in the novel
    domain, or fall back to what it was trained on?

    A binary classifier (training domain = 0 vs novel domain = 1, balanced batches) is
    trained on real images of both domains, except a held-out `DOMAIN_HOLDOUT_FRACTION`
    of each (chosen by `seed`). Returns {"rate": share of `generated_images` (all meant
    to be novel-domain) that it assigns to the TRAINING domain -- lower is better,
    "classifier_accuracy": its held-out accuracy, the mean of the two domains'
    accuracies so that unequal domain sizes do not inflate it}.
    """
    training = check_images(training_domain_images, "training_domain_images")
    novel = check_images(novel_domain_images, "novel_domain_images")
    generated = check_images(generated_images, "generated_images")
    _check_same_shape([("training_domain_images", training), ("novel_domain_images", novel),
                       ("generated_images", generated)])
    splits = []
    for domain, images in ((TRAINING_DOMAIN, training), (NOVEL_DOMAIN, novel)):
        if len(images) < 2:
            raise DataError(f"domain classification rate: each domain needs at least 2 real "
                            f"images (some to train on, some held out), got {len(images)}")
        count = min(len(images) - 1, max(1, int(round(DOMAIN_HOLDOUT_FRACTION * len(images)))))
        order = rng.permutation(rng.derive_key(int(seed), "domain-holdout", domain), len(images))
        splits.append((images[np.sort(order[count:])], images[np.sort(order[:count])]))
    sources = [(train, np.full(len(train), domain, np.int32))
               for domain, (train, _) in enumerate(splits)]
    net = classifier_lib.train_classifier(sources, 2, steps, seed, **classifier_options)
    accuracy = float(np.mean([np.mean(net.predict(held_out) == domain)
                              for domain, (_, held_out) in enumerate(splits)]))
    rate = float(np.mean(net.predict(generated) == TRAINING_DOMAIN))
    return {"rate": rate, "classifier_accuracy": accuracy}


# ---------------------------------------------------------------------------------
# Few-shot generation quality: fidelity, novelty, diversity
# ---------------------------------------------------------------------------------

def fidelity(evaluation_network, generated_images, seed_class_indices) -> float:
    """Share of generated images that the evaluation network assigns to the class of
    their seeds, among ALL the dataset's classes (chance = 1 / num_classes).
    `seed_class_indices`: one dataset class index for all images, or one per image."""
    generated = check_images(generated_images, "generated_images")
    indices = np.asarray(seed_class_indices)
    if indices.ndim == 0:
        indices = np.full(len(generated), int(indices))
    indices = check_labels(indices, len(generated), evaluation_network.num_classes,
                           "seed_class_indices")
    return float(np.mean(evaluation_network.predict(generated) == indices))


def _flat(images, what):
    images = check_images(images, what)
    return images.reshape(len(images), -1).astype(np.float64)


def pixel_distances(images_a, images_b) -> np.ndarray:
    """[n_a, n_b] root-mean-square pixel differences, ||a - b||_2 / sqrt(H*W*C): the L2
    distance scaled so that numbers do not grow with the resolution. Computed from the
    differences themselves (not from dot products), so identical images are exactly 0."""
    a, b = _flat(images_a, "images_a"), _flat(images_b, "images_b")
    if a.shape[1] != b.shape[1]:
        raise DataError(f"cannot compare images of {a.shape[1]} and {b.shape[1]} values")
    rows = max(1, int(4_000_000 // max(1, b.shape[0] * b.shape[1])))
    out = np.empty((len(a), len(b)))
    for start in range(0, len(a), rows):
        diff = a[start:start + rows, None, :] - b[None, :, :]
        out[start:start + rows] = np.sqrt(np.mean(diff * diff, axis=-1))
    return out


def novelty(generated_images, seed_images, real_unseen_images) -> float:
    """Mean distance from each generated image to its nearest seed image, divided by the
    same mean for real images of the class that were not seeds (distances:
    `pixel_distances`).

    0: the generator copies its seeds; about 1: new images are as far from the seeds as
    new real drawings of the class. Pixel distance measures departure from the seeds,
    not quality: a blend alpha*a + (1-alpha)*b of two seeds lies min(alpha, 1-alpha) *
    |a - b| from the nearer one, so `PixelBlend` scores below 1 while making unrealistic
    ghosted images, and noise scores far above 1; read it with fidelity and the
    Frechet distance.
    """
    seeds = check_images(seed_images, "seed_images")
    generated = check_images(generated_images, "generated_images")
    unseen = check_images(real_unseen_images, "real_unseen_images")
    _check_same_shape([("generated_images", generated), ("seed_images", seeds),
                       ("real_unseen_images", unseen)])
    reference = float(pixel_distances(unseen, seeds).min(axis=1).mean())
    if reference == 0.0:
        raise DataError("novelty: the real unseen images are identical to seed images, so "
                        "there is no real distance to compare with")
    return float(pixel_distances(generated, seeds).min(axis=1).mean()) / reference


def diversity(generated_images) -> float:
    """Mean `pixel_distances` over all pairs of images generated from ONE seed set
    (0 when they are all the same image)."""
    generated = check_images(generated_images, "generated_images")
    if len(generated) < 2:
        raise DataError(f"diversity needs at least 2 generated images, got {len(generated)}")
    distances = pixel_distances(generated, generated)
    return float(distances[np.triu_indices(len(generated), k=1)].mean())
