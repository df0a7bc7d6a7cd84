"""MNIST from idx(.gz) and csv files."""

import gzip

import numpy as np
import pytest

from fewgen_tf.data import mnist
from fewgen_tf.errors import DataError


def test_idx_test_set(mnist_dir):
    d = mnist.load_mnist(str(mnist_dir.parent), "test")
    assert d.images.shape == (10000, 28, 28, 1) and d.num_classes == 10
    assert d.class_sizes.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert d.images.min() == 0.0 and d.images.max() == 1.0 and d.images.mean() < 0.2


def test_csv_train_5k(mnist_dir):
    d = mnist.load_mnist(str(mnist_dir), "train")  # root may also be the mnist folder itself
    assert d.images.shape == (5000, 28, 28, 1) and np.all(d.class_sizes == 500)


def test_csv_and_idx_agree_on_the_same_images(mnist_dir, tmp_path):
    pixels = mnist.read_idx(str(mnist_dir / "t10k-images-idx3-ubyte.gz"))[:50]
    labels = mnist.read_idx(str(mnist_dir / "t10k-labels-idx1-ubyte.gz"))[:50]
    assert labels[0] == 7  # the first official test digit
    rows = [",".join(map(str, list(p.reshape(-1)) + [int(y)])) for p, y in zip(pixels, labels)]
    (tmp_path / "mnist_test.csv").write_text("\n".join(rows) + "\n")
    from_csv = mnist.load_mnist(str(tmp_path), "test")
    order = np.argsort(labels, kind="stable")
    np.testing.assert_array_equal(from_csv.images[..., 0], pixels[order] / np.float32(255))


def test_bad_mnist_files(tmp_path):
    with pytest.raises(DataError, match="no MNIST test files"):
        mnist.load_mnist(str(tmp_path), "test")
    with pytest.raises(DataError, match="unknown MNIST data.subset 'dev'"):
        mnist.load_mnist(str(tmp_path), "dev")
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x0c\x03garbage")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is not an unsigned-byte idx"):
        mnist.load_mnist(str(tmp_path), "test")
    (tmp_path / "mnist_train.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match="expected rows of 785 values"):
        mnist.load_mnist(str(tmp_path), "train")
