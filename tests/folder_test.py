"""Image folders: one-class folders (CelebA crops), class sub-folders, bad input."""

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf.data import folder
from fewgen_tf.errors import DataError


def _write_png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    tf.io.write_file(str(path), tf.io.encode_png(pixels))


def test_celeba_crops_as_one_class_folder(celeba_dir):
    d = folder.load_image_folder(str(celeba_dir), image_size=64, channels=3)
    assert d.num_classes == 1 and d.class_names == ("celeba32",)
    assert d.images.shape == (32, 64, 64, 3)
    assert 0.0 <= d.images.min() and d.images.max() <= 1.0 and d.images.std() > 0.1
    gray = folder.load_image_folder(str(celeba_dir), image_size=28, channels=1)
    assert gray.images.shape == (32, 28, 28, 1)


def test_class_subfolders_center_crop_and_resize(tmp_path):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255  # the centred 20x20 square is white; the sides are black
    _write_png(tmp_path / "b_class" / "x.png", wide)
    _write_png(tmp_path / "a_class" / "1.png", np.full((8, 8, 3), 64, np.uint8))
    _write_png(tmp_path / "a_class" / "2.png", np.full((16, 16, 3), 128, np.uint8))
    d = folder.load_image_folder(str(tmp_path), image_size=10, channels=3, center_crop=True)
    assert d.class_names == ("a_class", "b_class") and d.class_sizes.tolist() == [2, 1]
    np.testing.assert_allclose(d.class_images(0)[0], 64 / 255, atol=1e-6)
    np.testing.assert_allclose(d.class_images(0)[1], 128 / 255, atol=1e-6)
    np.testing.assert_allclose(d.class_images(1)[0], 1.0, atol=1e-6)
    squashed = folder.load_image_folder(str(tmp_path), image_size=10, center_crop=False)
    assert squashed.class_images(1)[0].min() < 0.5  # without cropping the black sides remain


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        folder.load_image_folder(str(tmp_path / "missing"), 28)
    with pytest.raises(DataError, match="holds no class folders and no images"):
        folder.load_image_folder(str(tmp_path), 28)
    (tmp_path / "cats").mkdir()
    with pytest.raises(DataError, match=r"class folder .*cats is empty"):
        folder.load_image_folder(str(tmp_path), 28)
    (tmp_path / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match=r"corrupt or unreadable image .*cats/broken\.jpg"):
        folder.load_image_folder(str(tmp_path), 28)
    _write_png(tmp_path / "loose.png", np.zeros((4, 4, 1), np.uint8))
    with pytest.raises(DataError, match="both class folders"):
        folder.load_image_folder(str(tmp_path), 28)
    with pytest.raises(DataError, match="data.channels must be 1"):
        folder.load_image_folder(str(tmp_path), 28, channels=2)
