"""The one small image classifier every generative-metric protocol trains.

The Classification Accuracy Score and the Mix protocol (Ravuri & Vinyals 2019), the
domain classification rate (AugIntAE, Table 2) and the evaluation network behind
fidelity and the Frechet distance all need "a small conv classifier trained on these
images for N steps". They share this trainer so that their numbers differ only in the
data they are given, never in the network, optimiser or schedule.

Network: `nets.backbones.embedding` (default `strided4`: four 3x3 stride-2 conv blocks
with batch normalisation and ReLU, then the spatial mean, so it works at any image size
down to 1x1 and its features have `filters` dimensions), then Dense(num_classes).

Training: Adam, `steps` steps of `batch_size` images, softmax cross-entropy averaged
per example. Each batch draws the same share from every source given (one source:
plain training; real + generated: the Mix protocol's 50/50 batches; two domains: a
balanced binary classifier), uniformly with replacement. Batch indices come from the
counter-based `data.rng`, and the initial weights from `seed` alone (the caller's
global random state is neither read nor changed), so a run is a pure function of its
inputs and seed.

Batch normalisation: after training the moving statistics are REPLACED by the exact
population moments of up to `calibration_size` training images ("precise BN",
`_calibrate_batch_norm`): after a few hundred steps the running averages are still
mostly their initial values, and inference with them would measure that artefact.
Options for other recipes (COLA's small-sample protocol): `train_classifier`.
"""

import contextlib
import random

import keras
import numpy as np
import tensorflow as tf

from fewgen_tf import schedules
from fewgen_tf.data import rng
from fewgen_tf.errors import DataError
from fewgen_tf.nets import backbones
from fewgen_tf.nets import layers as meta_layers
from fewgen_tf.nets import resnet

OPTIMIZERS = ("adam", "sgd")

INFERENCE_BATCH = 256


def check_images(images, what: str = "images", allow_empty: bool = False) -> np.ndarray:
    """`images` as a float32 NHWC array in [0, 1], or a DataError naming the problem."""
    array = np.asarray(images)
    if array.ndim != 4:
        raise DataError(f"{what}: expected NHWC images [n, height, width, channels], "
                        f"got shape {array.shape}")
    if len(array) == 0 and not allow_empty:
        raise DataError(f"{what}: no images")
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{what}: expected float images in [0, 1], got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if array.size:
        low, high = float(array.min()), float(array.max())
        if not (np.isfinite(low) and np.isfinite(high)) or low < -1e-4 or high > 1 + 1e-4:
            raise DataError(f"{what}: pixel values must be finite and in [0, 1], got range "
                            f"[{low:.4g}, {high:.4g}]")
    return array


def check_labels(labels, num_images: int, num_classes: int, what: str = "labels") -> np.ndarray:
    """`labels` as int32 class indices, one per image, each in [0, num_classes)."""
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != num_images:
        raise DataError(f"{what}: expected one label per image ({num_images}), got shape "
                        f"{array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"{what}: expected integer class indices, got dtype {array.dtype}")
    array = array.astype(np.int32)
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise DataError(f"{what}: class indices must lie in [0, {num_classes}), got range "
                        f"[{array.min()}, {array.max()}]")
    return array


def check_same_shape(named_images):
    """DataError naming every set when the (name, images) sets' image shapes differ."""
    shapes = {name: images.shape[1:] for name, images in named_images}
    if len(set(shapes.values())) != 1:
        raise DataError("image shapes differ: " + ", ".join(
            f"{name} {shape}" for name, shape in shapes.items()))


@contextlib.contextmanager
def _python_random_seeded(seed):
    """Keras draws an unseeded initialiser's seed from Python's `random`: seed it for the
    duration of a network's construction, then give the caller its own state back."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


class Classifier:
    """Embedding network + Dense head, with numpy-in / numpy-out accessors."""

    def __init__(self, input_shape, num_classes: int, filters: int = 32,
                 backbone: str = "strided4", seed: int = 0):
        if num_classes < 2:
            raise DataError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.input_shape, self.num_classes = tuple(int(s) for s in input_shape), int(num_classes)
        self.filters, self.backbone = int(filters), backbone
        with _python_random_seeded(rng.derive_key(int(seed), "classifier-init")):
            if backbone in resnet.BACKBONES:
                self.embedding = resnet.resnet_embedding(self.input_shape, backbone,
                                                         self.filters)
            else:
                self.embedding = backbones.embedding(self.input_shape, self.filters, backbone)
            self.head = keras.layers.Dense(self.num_classes, name="head")
            self.model = keras.Sequential(
                [keras.Input(shape=self.input_shape), self.embedding, self.head],
                name="classifier")

    # -- inference ----------------------------------------------------------------
    def _batched(self, function, images, batch_size):
        images = check_images(images)
        if images.shape[1:] != self.input_shape:
            raise DataError(f"classifier expects images of shape {self.input_shape}, got "
                            f"{images.shape[1:]}")
        return np.concatenate([np.asarray(function(tf.constant(images[i:i + batch_size])))
                               for i in range(0, len(images), batch_size)])

    def logits(self, images, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        """[n, num_classes] float32 logits (inference mode)."""
        return self._batched(lambda x: self.model(x, training=False), images, batch_size)

    def predict(self, images, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        """[n] int64 predicted class indices."""
        return np.argmax(self.logits(images, batch_size), axis=-1)

    def features(self, images, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        """[n, d] float32 penultimate features (the embedding's output)."""
        return self._batched(lambda x: self.embedding(x, training=False), images, batch_size)

    def accuracy(self, images, labels) -> float:
        """Fraction of `images` whose predicted class is `labels`."""
        images = check_images(images)
        labels = check_labels(labels, len(images), self.num_classes)
        return float(np.mean(self.predict(images) == labels))

    # -- weights as plain arrays (the evaluation network's cache) -----------------
    def weight_arrays(self) -> dict:
        """{variable path: array} of every weight, moving statistics included."""
        return {v.path: np.asarray(v.numpy()) for v in self.model.weights}

    def load_weight_arrays(self, arrays) -> None:
        """Inverse of `weight_arrays`; a DataError if names or shapes do not match."""
        expected = {v.path: tuple(v.shape) for v in self.model.weights}
        found = {k: tuple(np.shape(a)) for k, a in arrays.items()}
        if expected != found:
            raise DataError(f"stored classifier weights do not match the network: expected "
                            f"{len(expected)} variables, found {len(found)} "
                            f"(first difference: {_first_difference(expected, found)})")
        for v in self.model.weights:
            v.assign(arrays[v.path])


def _first_difference(expected, found):
    for key in sorted(set(expected) | set(found)):
        if expected.get(key) != found.get(key):
            return f"{key}: {expected.get(key)} vs {found.get(key)}"
    return "none"


def _source_batch_sizes(batch_size, num_sources):
    if batch_size < num_sources:
        raise DataError(f"batch_size {batch_size} is smaller than the {num_sources} sources "
                        "that each batch must draw from")
    share = batch_size // num_sources
    return [share + (1 if s < batch_size - share * num_sources else 0) for s in range(num_sources)]


def _draw_indices(key, n, count):
    """`count` indices uniform in [0, n), from the counter-based generator."""
    return np.minimum((rng.uniform(key, (count,)) * n).astype(np.int64), n - 1)


def compose_batch(sources, batch_size: int, key: int, step: int):
    """The training batch of `step`: (images, labels, source index of each image).

    Source s contributes `_source_batch_sizes(batch_size, len(sources))[s]` images (an
    equal share; two sources: half and half), drawn uniformly with replacement by the
    counter-based generator from (key, step, s); sources are concatenated in order.
    """
    xs, ys, ids = [], [], []
    shares = _source_batch_sizes(int(batch_size), len(sources))
    for s, ((images, labels), share) in enumerate(zip(sources, shares)):
        index = _draw_indices(rng.derive_key(key, step, s), len(images), share)
        xs.append(images[index])
        ys.append(labels[index])
        ids.append(np.full(share, s, np.int32))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ids)


def _bn_inputs(embedding, position, layer):
    """A function images -> the input of BatchStatNorm `layer` (inference mode)."""
    if isinstance(embedding, keras.Sequential):
        def prefix(x):
            for previous in embedding.layers[:position]:
                x = previous(x, training=False)
            return x
        return prefix
    probe = keras.Model(embedding.inputs, layer.input)  # functional: any graph
    return lambda x: probe(x, training=False)


def _calibrate_batch_norm(classifier, images):
    """Set every BatchStatNorm's moving moments to the exact population moments of its
    inputs over `images`, earlier layers already calibrated (layer by layer in the
    network's topological order, in inference mode, in batches, float64 sums).

    Why: with a few hundred steps the running averages (momentum 0.99) are still
    dominated by their initial values (0 mean, unit variance). The cost is about half a
    forward pass per normalisation layer over the sample (ResNet-20: ~10 passes);
    `calibration_size=0` keeps the moving averages instead."""
    layers = classifier.embedding.layers
    for position, layer in enumerate(layers):
        if not isinstance(layer, meta_layers.BatchStatNorm):
            continue
        inputs_of = _bn_inputs(classifier.embedding, position, layer)
        total, total_sq, count = 0.0, 0.0, 0
        for start in range(0, len(images), INFERENCE_BATCH):
            x = inputs_of(tf.constant(images[start:start + INFERENCE_BATCH]))
            x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
            total, total_sq, count = total + x.sum(0), total_sq + (x * x).sum(0), count + len(x)
        mean = total / count
        variance = np.maximum(total_sq / count - mean * mean, 0.0)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(variance.astype(np.float32))


def train_classifier(sources, num_classes: int, steps: int, seed: int, *,
                     batch_size: int = 64, learning_rate: float = 1e-3, filters: int = 32,
                     backbone: str = "strided4", calibration_size: int = 1024,
                     optimizer: str = "adam", momentum: float = 0.9,
                     weight_decay: float = 0.0, lr_halvings: int = 0,
                     augment=None) -> Classifier:
    """Train a `Classifier` on `sources`, a sequence of (images, labels) pairs.

    Every batch takes an equal share of `batch_size` from each source (the first sources
    get one more when it does not divide; `compose_batch`). Deterministic in (`sources`,
    `seed`, options). The defaults are the generative protocols' recipe (Adam, constant
    learning rate, no weight decay, no augmentation).

    Options for recipes that need another network or optimiser (e.g. COLA's small-sample
    protocol): `backbone="resnet20"` (or resnet32/44/56, `nets.resnet`; `filters` is then
    the first stage's width, 16 in the paper), `optimizer="sgd"` with `momentum`,
    `weight_decay` (added to the gradient of every trainable variable, as PyTorch's SGD
    does), `lr_halvings` (`schedules.halving_rates`) and `augment`, a function
    `(images, seed [2] int64) -> images` applied to every training batch inside the step.
    """
    if not sources:
        raise DataError("train_classifier needs at least one (images, labels) source")
    if int(steps) < 0:
        raise DataError(f"classifier steps must be >= 0, got {steps}")
    if optimizer not in OPTIMIZERS:
        raise DataError(f"unknown classifier optimizer {optimizer!r}; valid: "
                        f"{', '.join(OPTIMIZERS)}")
    if float(weight_decay) < 0:
        raise DataError(f"weight_decay must be >= 0, got {weight_decay}")
    checked = []
    for s, (images, labels) in enumerate(sources):
        images = check_images(images, f"training source {s} images")
        checked.append((images, check_labels(labels, len(images), num_classes,
                                             f"training source {s} labels")))
    shapes = {x.shape[1:] for x, _ in checked}
    if len(shapes) != 1:
        raise DataError(f"training sources have different image shapes: {sorted(shapes)}")
    if int(lr_halvings) < 0:
        raise DataError(f"lr_halvings must be >= 0, got {lr_halvings}")
    schedule = schedules.halving_rates(learning_rate, int(steps), lr_halvings)
    classifier = Classifier(checked[0][0].shape[1:], num_classes, filters, backbone, seed)
    model = classifier.model
    optimizer = (keras.optimizers.Adam(learning_rate) if optimizer == "adam"
                 else keras.optimizers.SGD(learning_rate, momentum=float(momentum)))
    optimizer.build(model.trainable_variables)
    decay = float(weight_decay)

    @tf.function
    def train_step(x, y, augment_seed):
        if augment is not None:
            x = augment(x, augment_seed)
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        variables = model.trainable_variables
        gradients = tape.gradient(loss, variables)
        if decay:
            gradients = [g + decay * v for g, v in zip(gradients, variables)]
        optimizer.apply_gradients(zip(gradients, variables))
        return loss

    shares = _source_batch_sizes(int(batch_size), len(checked))
    key = rng.derive_key(int(seed), "classifier-batches")
    augment_key = rng.derive_key(int(seed), "classifier-augment") >> 1  # fits in int64
    current_rate = float(learning_rate)
    for step in range(int(steps)):
        if schedule[step] != current_rate:
            current_rate = float(schedule[step])
            optimizer.learning_rate = current_rate
        x, y, _ = compose_batch(checked, batch_size, key, step)
        train_step(tf.constant(x), tf.constant(y),
                   tf.constant([augment_key, step], tf.int64))

    # Precise BN on a fixed sample drawn in the training proportions (0: keep the
    # moving averages, for runs long enough that they have converged).
    if int(calibration_size) <= 0:
        return classifier
    _calibrate_batch_norm(classifier, calibration_sample(checked, shares, batch_size,
                                                         calibration_size, seed))
    return classifier


def calibration_sample(sources, shares, batch_size: int, size: int, seed: int) -> np.ndarray:
    """Up to `size` distinct training images, the sources in their shares of a batch.
    A source with fewer images than its part shrinks every part alike (50 real images
    next to 5000 synthetic ones in 50/50 batches: 50 of each), so that the moments are
    those of the batches the network was trained on."""
    wanted = [max(1, int(size) * share // int(batch_size)) for share in shares]
    have = [len(images) for images, _ in sources]
    limit = min(range(len(sources)), key=lambda s: have[s] / wanted[s])
    calibration = []
    for s, (images, _) in enumerate(sources):
        count = wanted[s]
        if have[limit] < wanted[limit]:  # scale every part by have / wanted of the limit
            count = max(1, min(have[s], wanted[s] * have[limit] // wanted[limit]))
        order = rng.permutation(rng.derive_key(int(seed), "classifier-calibration", s), have[s])
        calibration.append(images[np.sort(order[:count])])
    return np.concatenate(calibration)
