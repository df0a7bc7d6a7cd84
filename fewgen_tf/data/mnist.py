"""MNIST from the official idx files (optionally gzipped) or the csv form.

The csv form is one image a row: 784 pixel values 0-255, then the label (the layout
of `mnist_5k.csv.gz`); a first row that is not numeric is taken as a header. Digits
are white on black, as published (0.0 = background).
"""

import gzip
import os

import numpy as np

from fewgen_tf.data import images as image_io
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CSV_FILES = {
    "train": ("mnist_train.csv", "mnist_5k.csv"),
    "test": ("mnist_test.csv",),
}


def _open(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _existing(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_idx(path: str) -> np.ndarray:
    """Parse an idx file (magic 0x0000 08 D, big-endian dims) into a uint8 array."""
    try:
        with _open(path) as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read MNIST idx file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte idx file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", count=ndim, offset=4).astype(np.int64)
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise DataError(f"{path}: header says {tuple(dims)} but holds {len(data) - offset} bytes")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(dims)


def read_csv(path: str):
    """(images uint8 [n,28,28], labels [n]) from the label-last csv form."""
    try:
        with _open(path) as f:
            lines = f.read().decode().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read MNIST csv {path}: {e}") from None
    if lines and not lines[0].split(",")[0].strip().lstrip("-").isdigit():
        lines = lines[1:]
    try:
        table = np.array([[int(v) for v in line.split(",")] for line in lines if line.strip()])
    except ValueError:
        raise DataError(f"{path}: every csv row must be 784 integer pixels and a label") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected rows of 785 values (784 pixels + label), got {table.shape}")
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784]


def load_mnist(root: str, subset: str = "test", image_size: int = 28) -> ClassDataset:
    """MNIST digits 0-9 of `subset` ('train' or 'test') as ten classes."""
    if subset not in _IDX_FILES:
        raise DataError(f"unknown MNIST data.subset {subset!r}; valid: {', '.join(_IDX_FILES)}")
    if not root:
        raise DataError("data.root is empty: set --config.data.root=DIR or FEWGEN_DATA_DIR")
    if not os.path.isdir(root):
        raise DataError(f"data.root {root!r} does not exist or is not a directory")
    directory = os.path.join(root, "mnist") if os.path.isdir(os.path.join(root, "mnist")) else root
    image_file, label_file = (_existing(directory, n) for n in _IDX_FILES[subset])
    if image_file and label_file:
        pixels, labels = read_idx(image_file), read_idx(label_file)
        if len(pixels) != len(labels):
            raise DataError(f"{image_file} has {len(pixels)} images but {label_file} "
                            f"{len(labels)} labels")
    else:
        csv = next(filter(None, (_existing(directory, n) for n in _CSV_FILES[subset])), None)
        if csv is None:
            expected = ", ".join(_IDX_FILES[subset] + _CSV_FILES[subset])
            raise DataError(f"no MNIST {subset} files in {directory}: expected one of {expected} "
                            "(optionally .gz)")
        pixels, labels = read_csv(csv)
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"MNIST labels must be digits 0-9, found {labels.min()}..{labels.max()}")
    images = image_io.resize_images(image_io.to_unit_float(pixels[..., None]), image_size)
    order = np.argsort(labels, kind="stable")
    arrays = [images[order][labels[order] == d] for d in range(10)]
    return ClassDataset.from_class_arrays(f"mnist-{subset}", arrays, [str(d) for d in range(10)])
