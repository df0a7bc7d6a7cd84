"""COLA section 6 (appendix B.3): the classifier of the small-sample experiment, whose
protocol is the pipeline `small_sample` (pipeline_small_sample.py).

One classifier recipe trained three ways on the same draw, so that the accuracies differ
only in the training images:
  real       the drawn real images only;
  synthetic  images a class-conditional generator (sCOLA) made from that draw only;
  mix        every batch half real, half synthetic (`classifier.compose_batch`).
All three take the same number of steps with the same batch size, initial weights (the
seed), schedule and augmentation, and are scored on the same real test images.

The recipe (appendix B.3): ResNet-20 (`nets.resnet`), SGD with momentum 0.9, batch
128, learning rate 0.1 halved on a fixed schedule, 5 times at equal intervals (the
paper's 180 epochs halved every 30: steps k * steps / 6, k = 1..5;
`schedules.halving_rates`), weight decay 5e-4 (B.3 states none; 5e-4 is the value the
paper gives for its other SGD training, B.1), and "standard data augmentation with such
image transformations as random flip and crop" (by image kind: `augmentation_for`).
Batch normalisation statistics are the exact population moments of up to
`calibration_size` training images after training (`classifier` "precise BN"; 0 keeps
the moving averages, enough after thousands of steps and much cheaper).
The paper counts its budget in epochs over the (fixed-size) extended set; here it is
`steps`, identical for the three ways and every spc (one protocol run:
`train_small_sample_classifier`).
"""

import numpy as np
import tensorflow as tf

from fewgen_tf.data import augment as augment_lib
from fewgen_tf.errors import DataError
from fewgen_tf.methods.cola import config
from fewgen_tf.metrics import classifier as classifier_lib

MODES = config.SMALL_SAMPLE_MODES
AUGMENTATIONS = config.SMALL_SAMPLE_AUGMENTATIONS  # ("auto", "flip_crop", "affine", "none")

BATCH_SIZE = config.SMALL_SAMPLE_RECIPE["batch_size"]
LEARNING_RATE = config.SMALL_SAMPLE_RECIPE["learning_rate"]
MOMENTUM = config.SMALL_SAMPLE_RECIPE["momentum"]
LR_HALVINGS = config.SMALL_SAMPLE_RECIPE["lr_halvings"]
WEIGHT_DECAY = config.SMALL_SAMPLE_RECIPE["weight_decay"]
CROP_PADDING = 4
SMALL_AFFINE = augment_lib.AugmentationRanges(
    rotation=(-10.0, 10.0), translation=(-3.0, 3.0), scale=(0.9, 1.1), shear=(-5.0, 5.0),
    fill="symmetric")


def flip_crop(images, seed, padding: int = CROP_PADDING):
    """Per image: a random `padding`-pixel shift with zero fill (pad, then crop back to
    the original size) and a horizontal flip with probability 1/2. `seed`: [2] int
    (stateless Philox: the same output for the same seed on every run)."""
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    u = tf.random.stateless_uniform([batch, 3], tf.cast(seed, tf.int64), alg="philox")
    offsets = tf.cast(tf.floor(u[:, :2] * (2 * padding + 1)), tf.int32)  # 0 .. 2 * padding
    flip = u[:, 2:] < 0.5
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    rows = offsets[:, :1] + tf.range(height)[None]
    columns = tf.range(width)[None]
    columns = offsets[:, 1:] + tf.where(flip, width - 1 - columns, columns)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    out = tf.gather(out, columns, axis=2, batch_dims=1)
    out.set_shape(images.shape)
    return out


def small_affine(images, seed):
    """Per image: a random affine map drawn from `SMALL_AFFINE` (`data.augment`)."""
    return augment_lib.augment(images, SMALL_AFFINE, tf.cast(seed, tf.int64))


def augmentation_for(name: str, channels: int):
    """The augmentation function `(images, seed) -> images` named `name`, or None;
    "auto": flip_crop for RGB, affine for one channel.

      flip_crop  (RGB) He et al.'s CIFAR recipe: 4 zero pixels of padding on each side,
                 a random crop back to the image size, a horizontal flip with
                 probability 1/2;
      affine     (digits and characters, where a flip changes the symbol) a small
                 random affine map through `data.augment`: rotation +-10 degrees,
                 translation +-3 pixels, scale 0.9-1.1, shear +-5 degrees, borders
                 filled by reflection (background on both white-on-black digits and
                 black-on-white characters);
      none."""
    if name not in AUGMENTATIONS:
        raise DataError(f"unknown augmentation {name!r}; valid: {', '.join(AUGMENTATIONS)}")
    if name == "auto":
        name = "flip_crop" if channels == 3 else "affine"
    return {"flip_crop": flip_crop, "affine": small_affine, "none": None}[name]


def _given(images, labels, what, num_classes):
    images = classifier_lib.check_images(images, f"{what}_images")
    return images, classifier_lib.check_labels(labels, len(images), num_classes,
                                               f"{what}_labels")


def _mode_sources(real_images, real_labels, synthetic_images, synthetic_labels, mode,
                  num_classes, image_shape=None):
    """The checked (images, labels) sources `mode` trains on, in order (real first)."""
    if mode not in MODES:
        raise DataError(f"unknown small-sample mode {mode!r}; valid: {', '.join(MODES)}")
    needs = {"real": ("real",), "synthetic": ("synthetic",), "mix": ("real", "synthetic")}[mode]
    given = {"real": (real_images, real_labels),
             "synthetic": (synthetic_images, synthetic_labels)}
    for what in needs:
        if given[what][0] is None or len(given[what][0]) == 0:
            raise DataError(f"mode {mode!r} trains on {what} images, but none were given")
    sources, shapes = {}, {}
    for what, (images, labels) in given.items():
        if images is not None:
            sources[what] = _given(images, labels, what, num_classes)
            shapes[f"{what}_images"] = sources[what][0].shape[1:]
    if image_shape is not None:
        shapes["image_shape"] = tuple(image_shape)
    if len(set(shapes.values())) != 1:
        listed = ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items())
        raise DataError(f"images must all have one shape [H, W, C]; got {listed}")
    return [sources[what] for what in needs]


def fit_small_sample_classifier(real_images, real_labels, synthetic_images, synthetic_labels,
                                mode: str, steps: int, seed: int, *, num_classes: int,
                                batch_size: int = BATCH_SIZE,
                                learning_rate: float = LEARNING_RATE,
                                momentum: float = MOMENTUM, weight_decay: float = WEIGHT_DECAY,
                                lr_halvings: int = LR_HALVINGS, augmentation: str = "auto",
                                backbone: str = config.SMALL_SAMPLE_RECIPE["backbone"],
                                filters: int = config.SMALL_SAMPLE_RECIPE["filters"],
                                calibration_size: int = config.SMALL_SAMPLE_RECIPE[
                                    "calibration_size"],
                                image_shape=None) -> classifier_lib.Classifier:
    """The recipe trained the `mode` way: a `metrics.classifier.Classifier`.

    The sources a mode does not use may be None (synthetic for "real", real for
    "synthetic"); those given are checked all the same, and against `image_shape`
    [H, W, C] when given (the test images'). Deterministic in the inputs and `seed`:
    for one seed the three modes start from the same weights.
    """
    if int(steps) < 1:
        raise DataError(f"small-sample classifier steps must be >= 1, got {steps}")
    sources = _mode_sources(real_images, real_labels, synthetic_images, synthetic_labels,
                            mode, num_classes, image_shape)
    return classifier_lib.train_classifier(
        sources, num_classes, int(steps), int(seed), batch_size=batch_size,
        learning_rate=learning_rate, filters=filters, backbone=backbone,
        calibration_size=calibration_size, optimizer="sgd", momentum=momentum,
        weight_decay=weight_decay, lr_halvings=lr_halvings,
        augment=augmentation_for(augmentation, sources[0][0].shape[-1]))


def train_small_sample_classifier(real_images, real_labels, synthetic_images,
                                  synthetic_labels, mode: str, steps: int, seed: int, *,
                                  test_images, test_labels, num_classes: int,
                                  **options) -> float:
    """Accuracy on (`test_images`, `test_labels`) of `fit_small_sample_classifier(...)`
    (`options` are its keyword options). Every input is checked before training.

    A protocol run (pipeline `small_sample`) is then:

        for draw in range(3):
            sample = data.class_subsample.draw_small_sample(train_set, spc, draw, seed)
            ... train sCOLA on sample; synthetic = its sample_class(c, n, seed) for every c
            for mode in MODES:
                accuracy[mode].append(train_small_sample_classifier(
                    sample.images, sample.labels, synthetic_images, synthetic_labels, mode,
                    steps, seed, test_images=test_set.images, test_labels=test_set.labels,
                    num_classes=test_set.num_classes))
        {mode: summarize(accuracy[mode]) for mode in MODES}
    """
    test = _given(test_images, test_labels, "test", num_classes)
    net = fit_small_sample_classifier(
        real_images, real_labels, synthetic_images, synthetic_labels, mode, steps, seed,
        num_classes=num_classes, image_shape=test[0].shape[1:], **options)
    return net.accuracy(*test)


def summarize(accuracies) -> dict:
    """{"mean", "std", "draws"} of one mode's accuracies over draws; std is the
    population std (ddof 0), the convention of `metrics.fewshot`."""
    values = np.asarray(list(accuracies), np.float64)
    if values.size == 0:
        raise DataError("no accuracies to summarise")
    return {"mean": float(values.mean()), "std": float(values.std()), "draws": int(values.size)}
