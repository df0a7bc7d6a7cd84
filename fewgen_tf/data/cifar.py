"""CIFAR-10 and CIFAR-100 from the official python batches, their archives, or folders.

The official python version (https://www.cs.toronto.edu/~kriz/cifar.html) is a set of
pickled dicts with bytes keys: `b"data"`, a uint8 array [n, 3072] whose rows hold the
1024 red, then 1024 green, then 1024 blue values of a 32x32 image, each plane row-major;
and `b"labels"` (CIFAR-10) or `b"fine_labels"` (CIFAR-100, which also has the 20
`b"coarse_labels"`; the fine ones are used). Files:

  CIFAR-10   cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
             or the archive cifar-10-python.tar.gz holding that folder
  CIFAR-100  cifar-100-python/{train, test, meta}
             or the archive cifar-100-python.tar.gz

`data.root` may be the batches folder itself, the folder holding it (or the archive),
or a folder with a `cifar10` / `cifar100` sub-folder holding either. Failing those, a
folder layout `<dir>/<subset>/<class name>/*.png` is read by `folder.py` (class folders
sorted by name, which is the official label order of both datasets). The official
train/test split is `data.subset`.

The pickles are read by an unpickler that only builds dicts, lists, strings, numbers and
NumPy arrays: a file that names any other global is refused rather than executed.
"""

import io
import os
import pickle
import tarfile

import numpy as np

from fewgen_tf.data import folder
from fewgen_tf.data import images as image_io
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError

SUBSETS = ("train", "test")

# name -> (batches folder, archive, {subset: batch files}, label key, meta file, names key,
#          number of classes)
_LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", "cifar-10-python.tar.gz",
                {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
                b"labels", "batches.meta", b"label_names", 10),
    "cifar100": ("cifar-100-python", "cifar-100-python.tar.gz",
                 {"train": ("train",), "test": ("test",)},
                 b"fine_labels", "meta", b"fine_label_names", 100),
}

# The only globals an official CIFAR pickle (NumPy 1 or 2) needs to rebuild its arrays.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _unpickle(data: bytes, source: str) -> dict:
    try:
        batch = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise DataError(f"{source} is not a CIFAR python batch: {type(e).__name__}: {e}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{source} is not a CIFAR python batch: it holds a "
                        f"{type(batch).__name__}, not a dict")
    return batch


def decode_batch(batch: dict, label_key: bytes, source: str):
    """(uint8 images [n, 32, 32, 3] HWC, int64 labels [n]) from one unpickled batch."""
    if b"data" not in batch or label_key not in batch:
        found = ", ".join(repr(k) for k in batch)
        raise DataError(f"{source}: a CIFAR batch needs keys b'data' and {label_key!r}; "
                        f"found {found}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{source}: b'data' must be uint8 [n, 3072] (3 planes of 32x32), "
                        f"got {data.dtype} {data.shape}")
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype,
                                                                          np.integer):
        raise DataError(f"{source}: {label_key!r} must be {len(data)} integer labels, got "
                        f"{labels.dtype} {labels.shape}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def _batches_dir(root, name):
    """The folder holding the official batch files, or None."""
    batches_folder, _, files, *_ = _LAYOUTS[name]
    for candidate in (os.path.join(root, batches_folder),
                      os.path.join(root, name, batches_folder), os.path.join(root, name), root):
        if all(os.path.isfile(os.path.join(candidate, f)) for f in files["test"]) or all(
                os.path.isfile(os.path.join(candidate, f)) for f in files["train"]):
            return candidate
    return None


def _archive(root, name):
    archive = _LAYOUTS[name][1]
    for candidate in (os.path.join(root, archive), os.path.join(root, name, archive)):
        if os.path.isfile(candidate):
            return candidate
    return None


def _folder_dir(root, name, subset):
    for candidate in (os.path.join(root, name, subset), os.path.join(root, subset)):
        if os.path.isdir(candidate):
            return candidate
    return None


def _read_files(name, subset, read):
    """Images, labels and class names through `read(file name) -> bytes or None`."""
    _, _, files, label_key, meta_file, names_key, num_classes = _LAYOUTS[name]
    pixels, labels = [], []
    for file_name in files[subset]:
        data, source = read(file_name)
        if data is None:
            raise DataError(f"{name} {subset}: missing batch file {source}")
        x, y = decode_batch(_unpickle(data, source), label_key, source)
        pixels.append(x)
        labels.append(y)
    class_names = [str(c) for c in range(num_classes)]
    meta, meta_source = read(meta_file)
    if meta is not None:
        names = _unpickle(meta, meta_source).get(names_key)
        if names is not None and len(names) == num_classes:
            class_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return np.concatenate(pixels), np.concatenate(labels), class_names


def _from_directory(directory, name, subset):
    def read(file_name):
        path = os.path.join(directory, file_name)
        if not os.path.isfile(path):
            return None, path
        with open(path, "rb") as f:
            return f.read(), path
    return _read_files(name, subset, read)


def _from_archive(archive, name, subset):
    batches_folder = _LAYOUTS[name][0]
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}

            def read(file_name):
                member = members.get(f"{batches_folder}/{file_name}")
                source = f"{archive}:{batches_folder}/{file_name}"
                return (tar.extractfile(member).read() if member else None), source
            return _read_files(name, subset, read)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"cannot read the {name} archive {archive}: {e}") from None


def load_cifar(root: str, name: str = "cifar10", subset: str = "test", image_size: int = 32,
               channels: int = 3) -> ClassDataset:
    """The official `subset` ('train' or 'test') of `name` ('cifar10' or 'cifar100')."""
    if name not in _LAYOUTS:
        raise DataError(f"unknown CIFAR dataset {name!r}; valid: {', '.join(_LAYOUTS)}")
    if subset not in SUBSETS:
        raise DataError(f"unknown {name} data.subset {subset!r}; valid: {', '.join(SUBSETS)}")
    if channels not in (1, 3):
        raise DataError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if not root:
        raise DataError("data.root is empty: set --config.data.root=DIR or FEWGEN_DATA_DIR")
    if not os.path.isdir(root):
        raise DataError(f"data.root {root!r} does not exist or is not a directory")
    batches_folder, archive_name, files, *_, num_classes = _LAYOUTS[name]
    directory, archive = _batches_dir(root, name), _archive(root, name)
    if directory is not None:
        pixels, labels, class_names = _from_directory(directory, name, subset)
    elif archive is not None:
        pixels, labels, class_names = _from_archive(archive, name, subset)
    else:
        images_dir = _folder_dir(root, name, subset)
        if images_dir is None:
            raise DataError(
                f"no {name} {subset} data under {root}: expected the batch files "
                f"{', '.join(files[subset])} in {batches_folder}/ (or in {root} itself), "
                f"the archive {archive_name}, or class folders in {subset}/ or "
                f"{name}/{subset}/")
        dataset = folder.load_image_folder(images_dir, image_size, channels, center_crop=False)
        return ClassDataset(f"{name}-{subset}", dataset.images, dataset.labels,
                            dataset.class_names, dataset.class_keys)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"{name} labels must lie in [0, {num_classes}), found "
                        f"{labels.min()}..{labels.max()}")
    images = image_io.to_unit_float(pixels)
    if channels == 1:
        images = images @ np.array([0.2989, 0.5870, 0.1140], np.float32)[:, None]
    images = image_io.resize_images(images, image_size)
    order = np.argsort(labels, kind="stable")
    images, labels = images[order], labels[order]
    arrays = [images[labels == c] for c in range(num_classes)]
    return ClassDataset.from_class_arrays(f"{name}-{subset}", arrays, class_names)
