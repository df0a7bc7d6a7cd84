"""Few-shot generation quality: `fidelity` (does the evaluation network name the seed
class?), `novelty` (how far from the seeds, relative to real new images) and `diversity`
(how different the images of one seed set are). The reference generators
(`generators.reference.CopySeeds`, `PixelBlend`) bracket what these numbers mean.
Numpy in, numpy out; bad input raises `DataError`."""

import numpy as np

from fewgen_tf.errors import DataError
from fewgen_tf.metrics.classifier import check_images, check_labels, check_same_shape


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
    check_same_shape([("generated_images", generated), ("seed_images", seeds),
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
