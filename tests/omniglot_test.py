"""Omniglot from the npz pair and the official zip; the lasium and lake splits."""

import os
import shutil
import zipfile

import numpy as np
import pytest

from fewgen_tf.config import base_config
from fewgen_tf.data import omniglot, registry, splits
from fewgen_tf.errors import DataError


@pytest.fixture(scope="module")
def omniglot_all(omniglot_dir):
    config = base_config().data
    config.update(dict(name="omniglot", root=str(omniglot_dir.parent), image_size=28,
                       format="npz", split="lasium"))
    return registry.load_dataset(config)


def test_npz_loads_all_1623_characters_by_20(omniglot_all):
    d = omniglot_all
    assert d.num_classes == omniglot.NUM_CHARACTERS
    assert d.images.shape == (1623 * 20, 28, 28, 1) and d.images.dtype == np.float32
    assert np.all(d.class_sizes == 20)
    assert list(d.class_keys) == list(range(1, 1624))
    assert d.images.min() == 0.0 and d.images.max() == 1.0
    assert d.images.mean() > 0.85  # white background = 1.0, ink is dark
    assert d.class_names[107] == "Balinese/character01"  # official id 108
    assert d.class_names[964] == "Angelic/character01"  # first evaluation character


def test_official_zip_matches_npz_pixel_for_pixel(omniglot_all, omniglot_dir):
    zipped = omniglot.load_omniglot(str(omniglot_dir / "official_zip"), 28, "official")
    assert zipped.num_classes == 136 and np.all(zipped.class_sizes == 20)
    index = {k: i for i, k in enumerate(omniglot_all.class_keys)}
    for c, key in enumerate(zipped.class_keys):
        reference = omniglot_all.class_images(index[key])
        np.testing.assert_array_equal(zipped.class_images(c), reference, err_msg=f"id {key}")
        assert zipped.class_names[c] == omniglot_all.class_names[index[key]]


def test_extracted_official_folder_matches_npz(omniglot_all, omniglot_dir, tmp_path):
    source = omniglot_dir / "official_zip" / "images_background_small1.zip"
    with zipfile.ZipFile(source) as archive:
        members = [m for m in archive.namelist() if "/Balinese/character0" in m]
        archive.extractall(tmp_path, members)
    folder = omniglot.load_omniglot(str(tmp_path), 28, "auto")
    assert folder.num_classes == 9 and folder.class_keys == tuple(range(108, 117))
    np.testing.assert_array_equal(folder.images, omniglot_all.images[107 * 20:116 * 20])


def test_lasium_split_sizes_and_disjointness(omniglot_all):
    parts = splits.lasium_split(omniglot_all)
    sizes = {p: parts[p].num_classes for p in splits.PARTS}
    assert sizes == {"train": 1200, "val": 100, "test": 323}
    keys = [set(parts[p].class_keys) for p in splits.PARTS]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    assert set().union(*keys) == set(range(1, 1624))
    # Fixed seed: the same split on every call.
    assert splits.lasium_split(omniglot_all)["test"].class_keys == parts["test"].class_keys


def test_lake_split_sizes(omniglot_all):
    parts = splits.lake_split(omniglot_all)
    assert [parts[p].num_classes for p in splits.PARTS] == [900, 64, 659]
    assert all(k <= 964 for k in parts["train"].class_keys + parts["val"].class_keys)
    assert set(parts["test"].class_keys) == set(range(965, 1624))
    assert not set(parts["train"].class_keys) & set(parts["val"].class_keys)


def test_published_splits_refuse_a_partial_omniglot(omniglot_dir):
    partial = omniglot.load_omniglot(str(omniglot_dir / "official_zip"), 28, "official")
    with pytest.raises(DataError, match="needs all 1623 Omniglot characters"):
        splits.lasium_split(partial)
    with pytest.raises(DataError, match="split 'lake' needs the 964 background"):
        splits.lake_split(partial)


def test_missing_and_corrupt_omniglot_sources(tmp_path, omniglot_dir):
    with pytest.raises(DataError, match="does not exist"):
        omniglot.load_omniglot(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="data.root is empty"):
        omniglot.load_omniglot("")
    with pytest.raises(DataError, match="no Omniglot data under"):
        omniglot.load_omniglot(str(tmp_path))
    # A character PNG that is not an image: the error names the file.
    char_dir = tmp_path / "images_background" / "Alpha" / "character01"
    char_dir.mkdir(parents=True)
    (char_dir / "0001_01.png").write_bytes(b"this is not a png")
    with pytest.raises(DataError, match=r"corrupt or unreadable image .*0001_01\.png"):
        omniglot.load_omniglot(str(tmp_path), fmt="official")
    # A broken zip is named too.
    shutil.rmtree(tmp_path / "images_background")
    (tmp_path / "images_evaluation.zip").write_bytes(b"PK broken")
    with pytest.raises(DataError, match="cannot open Omniglot zip .*images_evaluation.zip"):
        omniglot.load_omniglot(str(tmp_path))
    os.remove(tmp_path / "images_evaluation.zip")


def test_random_bytes_npz_is_named_not_a_valid_archive(tmp_path):
    path = tmp_path / omniglot.NPZ_FILES[0]
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    with pytest.raises(DataError, match=rf"cannot read Omniglot npz {path}: not a valid "
                                        r"\.npz archive") as caught:
        omniglot.load_npz(str(tmp_path), 28)
    assert "pickled" not in str(caught.value)
    np.savez(path, images=np.zeros((2, 20, 5, 5), bool))  # a real archive passes the check
    with pytest.raises(DataError, match=r"expected images of shape \(C, 20, 105, 105\)"):
        omniglot.load_npz(str(tmp_path), 28)


def test_npz_labels_are_optional_and_must_match_the_characters_order(tmp_path):
    """A character is its position in the file; `labels`, when present, must say so."""
    images = np.ones((2, 20, 105, 105), bool)
    for filename in omniglot.NPZ_FILES:
        np.savez(tmp_path / filename, images=images)
    without = omniglot.load_npz(str(tmp_path), 28)  # documented: labels are optional
    assert without.num_classes == 4
    np.savez(tmp_path / omniglot.NPZ_FILES[0], images=images,
             labels=np.repeat(np.arange(2)[:, None], 20, 1))
    assert omniglot.load_npz(str(tmp_path), 28).num_classes == 4
    np.savez(tmp_path / omniglot.NPZ_FILES[0], images=images,
             labels=np.repeat(np.array([1, 0])[:, None], 20, 1))
    with pytest.raises(DataError, match="labels must be each image's character index"):
        omniglot.load_npz(str(tmp_path), 28)
