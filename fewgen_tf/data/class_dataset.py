"""The one in-memory form every dataset loader returns: images grouped by class."""

import dataclasses
import functools

import numpy as np

from fewgen_tf.errors import DataError


@dataclasses.dataclass(frozen=True)
class ClassDataset:
    """Class-indexed images, float32 NHWC in [0, 1], read-only once built.

    `images[i]` belongs to class `labels[i]` (0..num_classes-1, images of a class are
    contiguous); `class_names[c]` is a human-readable name; `class_keys[c]` is a stable
    integer identity used to define class splits (for Omniglot the official character
    id, so the npz and the official-zip loaders give the same splits).
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    class_keys: tuple

    def __post_init__(self):
        if self.images.ndim != 4:
            raise DataError(f"{self.name}: images must be NHWC, got shape {self.images.shape}")
        if self.images.dtype != np.float32:
            raise DataError(f"{self.name}: images must be float32, got {self.images.dtype}")
        if len(self.labels) != len(self.images):
            raise DataError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")
        if len(self.class_names) != len(self.class_keys):
            raise DataError(f"{self.name}: class_names and class_keys differ in length")
        if len(self.labels) and (np.any(np.diff(self.labels) < 0) or self.labels.max() >= self.num_classes):
            raise DataError(f"{self.name}: labels must be sorted class indices below {self.num_classes}")
        self.images.setflags(write=False)
        self.labels.setflags(write=False)

    @classmethod
    def from_class_arrays(cls, name, arrays, class_names, class_keys=None):
        """Build from one `[n_c, H, W, C]` array per class."""
        if class_keys is None:
            class_keys = tuple(range(len(arrays)))
        if not arrays:
            raise DataError(f"{name}: no classes found")
        labels = np.concatenate([np.full(len(a), c, np.int32) for c, a in enumerate(arrays)])
        images = np.concatenate(arrays).astype(np.float32, copy=False)
        return cls(name, images, labels, tuple(class_names), tuple(class_keys))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple:
        return tuple(self.images.shape[1:])

    @functools.cached_property
    def class_starts(self) -> np.ndarray:
        """Index of each class's first image, plus the total at the end (computed once:
        every sampled episode reads it)."""
        return np.searchsorted(self.labels, np.arange(self.num_classes + 1)).astype(np.int64)

    @functools.cached_property
    def class_sizes(self) -> np.ndarray:
        return np.diff(self.class_starts)

    def class_images(self, c: int) -> np.ndarray:
        start, stop = self.class_starts[c], self.class_starts[c + 1]
        return self.images[start:stop]

    def subset(self, class_indices, name=None) -> "ClassDataset":
        """A dataset of the given classes, relabelled 0..len-1 in the order given."""
        class_indices = [int(c) for c in class_indices]
        starts = self.class_starts
        return ClassDataset.from_class_arrays(
            name or self.name,
            [self.images[starts[c]:starts[c + 1]] for c in class_indices],
            [self.class_names[c] for c in class_indices],
            [self.class_keys[c] for c in class_indices],
        ) if class_indices else _empty_like(self, name)

    def statistics(self) -> dict:
        """Summary numbers for metrics.jsonl: sizes and pixel moments."""
        sizes = self.class_sizes
        return {
            "dataset": self.name,
            "classes": self.num_classes,
            "images": int(len(self.images)),
            "image_shape": list(self.image_shape),
            "min_images_per_class": int(sizes.min()) if len(sizes) else 0,
            "max_images_per_class": int(sizes.max()) if len(sizes) else 0,
            "pixel_mean": float(self.images.mean(dtype=np.float64)) if len(self.images) else 0.0,
            "pixel_std": float(self.images.std(dtype=np.float64)) if len(self.images) else 0.0,
        }


def _empty_like(dataset, name):
    return ClassDataset(name or dataset.name, np.zeros((0,) + dataset.image_shape, np.float32),
                        np.zeros((0,), np.int32), (), ())
