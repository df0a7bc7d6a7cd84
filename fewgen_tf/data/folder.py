"""Any folder of images: class sub-folders (CelebA identities, mini-ImageNet, user
data) or, when the folder holds images directly, a single class named after it."""

import collections
import os

import numpy as np

from fewgen_tf.data import images as image_io
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError


def _image_files(directory):
    return sorted(f for f in os.listdir(directory)
                  if not f.startswith(".") and f.lower().endswith(image_io.IMAGE_EXTENSIONS)
                  and os.path.isfile(os.path.join(directory, f)))


def _load_images(paths, channels, image_size, center_crop):
    decoded = [image_io.read_image_file(p, channels) for p in paths]
    if center_crop:
        decoded = [image_io.center_crop_square(im) for im in decoded]
    by_shape = collections.defaultdict(list)
    for i, im in enumerate(decoded):
        by_shape[im.shape].append(i)
    out = np.zeros((len(decoded), image_size, image_size, channels), np.float32)
    for indices in by_shape.values():  # one resize call per distinct input size
        batch = image_io.to_unit_float(np.stack([decoded[i] for i in indices]))
        out[indices] = image_io.resize_images(batch, image_size)
    return out


def load_image_folder(root: str, image_size: int, channels: int = 3,
                      center_crop: bool = True) -> ClassDataset:
    """Images under `root/<class>/*.{png,jpg,...}`, or `root/*.{png,jpg}` as one class."""
    if channels not in (1, 3):
        raise DataError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if not root:
        raise DataError("data.root is empty: set --config.data.root to the image folder")
    if not os.path.isdir(root):
        raise DataError(f"data.root {root!r} does not exist or is not a directory")
    class_dirs = sorted(d for d in os.listdir(root)
                        if not d.startswith(".") and os.path.isdir(os.path.join(root, d)))
    loose_images = _image_files(root)
    if class_dirs and loose_images:
        raise DataError(f"{root} holds both class folders ({class_dirs[0]}, ...) and loose images "
                        f"({loose_images[0]}, ...): use one layout")
    if not class_dirs:
        if not loose_images:
            raise DataError(f"{root} holds no class folders and no images")
        name = os.path.basename(os.path.normpath(root))
        paths = [os.path.join(root, f) for f in loose_images]
        return ClassDataset.from_class_arrays(
            f"folder:{name}", [_load_images(paths, channels, image_size, center_crop)], [name])
    arrays = []
    for class_name in class_dirs:
        class_dir = os.path.join(root, class_name)
        files = _image_files(class_dir)
        if not files:
            raise DataError(f"class folder {class_dir} is empty: it holds no "
                            f"{'/'.join(image_io.IMAGE_EXTENSIONS)} images")
        arrays.append(_load_images([os.path.join(class_dir, f) for f in files],
                                   channels, image_size, center_crop))
    return ClassDataset.from_class_arrays(
        f"folder:{os.path.basename(os.path.normpath(root))}", arrays, class_dirs)
