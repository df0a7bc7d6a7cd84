"""The evaluation network: a classifier over ALL of a dataset's classes, trained once and
cached on disk (keyed by the dataset's fingerprint and the options), whose penultimate
features feed the Frechet distance and whose predictions score `fidelity`. The cache
entry is written into a private temporary directory and renamed into place; when two
processes finish the same network, the first copy is kept (unlike
`workdir.replace_directory`, which replaces)."""

import hashlib
import json
import os
import re
import shutil
import tempfile

import numpy as np
from absl import logging

from fewgen_tf.data import rng
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.metrics import classifier as classifier_lib
from fewgen_tf.nets import backbones


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
