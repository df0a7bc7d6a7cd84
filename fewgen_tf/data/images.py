"""Decoding and resizing of image files into the float32 [0, 1] NHWC contract."""

import numpy as np
import tensorflow as tf

from fewgen_tf.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_RESIZE_CHUNK = 2048


def decode_image_bytes(data: bytes, channels: int, source: str) -> np.ndarray:
    """Decode PNG/JPEG/BMP/GIF bytes to uint8 HWC with `channels` channels.

    A corrupt or unreadable image raises DataError naming `source` (the file).
    """
    try:
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError, ValueError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"corrupt or unreadable image {source}: {first_line}") from None
    return image.numpy()


def read_image_file(path: str, channels: int) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"cannot read image {path}: {e.strerror}") from None
    if not data:
        raise DataError(f"corrupt or unreadable image {path}: the file is empty")
    return decode_image_bytes(data, channels, path)


def center_crop_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of an HWC image."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize NHWC float32 images to `size x size` (antialiased bilinear), in chunks.

    Omniglot's 105x105 characters and CelebA's faces are downsampled, where the
    antialias filter matters; images already at `size` are returned unchanged.
    """
    images = np.asarray(images, np.float32)
    if images.shape[1:3] == (size, size):
        return images
    out = [tf.image.resize(images[i:i + _RESIZE_CHUNK], (size, size), method="bilinear",
                           antialias=True).numpy()
           for i in range(0, len(images), _RESIZE_CHUNK)]
    return np.clip(np.concatenate(out), 0.0, 1.0) if out else np.zeros(
        (0, size, size, images.shape[-1]), np.float32)


def to_unit_float(images_uint8: np.ndarray) -> np.ndarray:
    return images_uint8.astype(np.float32) / 255.0
