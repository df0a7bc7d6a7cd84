"""Omniglot (Lake et al. 2015) from the `.npz` pair or the official zips / folders.

Both loaders give the same ClassDataset for the same characters, pixel for pixel:
classes sorted by official character id (background 1..964, evaluation 965..1623),
drawers in file order, 105x105 resized to `image_size`, white background = 1.0.
`class_keys` are the official ids, which the `lasium` and `lake` splits are defined on.
"""

import collections
import os
import re
import zipfile

import numpy as np

from fewgen_tf.data import images as image_io
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError

from fewgen_tf.data.split_sizes import NUM_BACKGROUND, NUM_CHARACTERS, NUM_EVALUATION  # noqa: F401
NPZ_FILES = ("images_background.npz", "images_evaluation.npz")
_SET_PREFIXES = ("images_background", "images_evaluation")
_FILE_PATTERN = re.compile(r"^(\d+)_(\d+)\.png$")
_CHUNK_CHARACTERS = 256


def is_background(official_id: int) -> bool:
    return official_id <= NUM_BACKGROUND


def load_omniglot(root: str, image_size: int = 28, fmt: str = "auto") -> ClassDataset:
    """Load every character found under `root` (or `root/omniglot`)."""
    directory = _find_directory(root)
    has_npz = all(os.path.isfile(os.path.join(directory, f)) for f in NPZ_FILES)
    if fmt not in ("auto", "npz", "official"):
        raise DataError(f"unknown omniglot data.format {fmt!r}; valid: auto, npz, official")
    if fmt == "npz" or (fmt == "auto" and has_npz):
        if not has_npz:
            raise DataError(f"omniglot npz files {', '.join(NPZ_FILES)} not found in {directory}")
        return load_npz(directory, image_size)
    return load_official(directory, image_size)


def _find_directory(root: str) -> str:
    if not root:
        raise DataError("data.root is empty: set --config.data.root=DIR or the FEWGEN_DATA_DIR "
                        "environment variable to the folder holding the data")
    if not os.path.isdir(root):
        raise DataError(f"data.root {root!r} does not exist or is not a directory")
    for candidate in (os.path.join(root, "omniglot"), root):
        if os.path.isdir(candidate) and (
                any(os.path.isfile(os.path.join(candidate, f)) for f in NPZ_FILES)
                or _official_sources(candidate)):
            return candidate
    raise DataError(
        f"no Omniglot data under {root!r}: expected {' and '.join(NPZ_FILES)}, or official "
        "images_background*/images_evaluation* zips or folders, in it or in its omniglot/ folder")


# --------------------------------------------------------------------------- npz pair

def _alphabet_names(directory):
    """Map official id -> (alphabet, character number) from alphabets.tsv, if present."""
    path = os.path.join(directory, "alphabets.tsv")
    if not os.path.isfile(path):
        return {}
    names = {}
    with open(path) as f:
        for line in f.read().splitlines()[1:]:
            if line.strip():
                first, last, _, alphabet = line.split("\t")
                for official_id in range(int(first), int(last) + 1):
                    names[official_id] = f"{alphabet}/character{official_id - int(first) + 1:02d}"
    return names


def load_npz(directory: str, image_size: int) -> ClassDataset:
    names = _alphabet_names(directory)
    arrays, keys = [], []
    for filename, first_id in zip(NPZ_FILES, (1, NUM_BACKGROUND + 1)):
        path = os.path.join(directory, filename)
        if os.path.isfile(path) and not zipfile.is_zipfile(path):  # numpy would call
            # any other bytes "pickled data", refused under allow_pickle=False
            raise DataError(f"cannot read Omniglot npz {path}: not a valid .npz archive "
                            "(not a zip file; re-download or re-create it)")
        try:
            with np.load(path) as archive:
                pixels = archive["images"]
                labels = archive["labels"] if "labels" in archive.files else None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            raise DataError(f"cannot read Omniglot npz {path}: {e}") from None
        if pixels.ndim != 4 or pixels.shape[2:] != (105, 105):
            raise DataError(f"{path}: expected images of shape (C, 20, 105, 105), got {pixels.shape}")
        # A character is its position in the file (the official order); `labels`, optional,
        # must say the same, so a file whose rows were reordered is refused, not misread.
        if labels is not None and (labels.shape != pixels.shape[:2] or np.any(
                labels != np.arange(len(pixels))[:, None])):
            raise DataError(f"{path}: labels must be each image's character index within the "
                            f"file ((C, 20), row c all c), got shape {labels.shape} and other "
                            "values: its characters are out of order")
        for start in range(0, len(pixels), _CHUNK_CHARACTERS):
            block = pixels[start:start + _CHUNK_CHARACTERS]
            flat = block.reshape((-1, 105, 105, 1)).astype(np.float32)  # True = white = 1.0
            small = image_io.resize_images(flat, image_size)
            arrays.extend(small.reshape((len(block), -1) + small.shape[1:]))
        keys.extend(range(first_id, first_id + len(pixels)))
    class_names = [names.get(k, f"character{k:04d}") for k in keys]
    return ClassDataset.from_class_arrays("omniglot", arrays, class_names, keys)


# ------------------------------------------------------------- official zips / folders

def _official_sources(directory):
    """Official sets in `directory`: (set name, zip path or folder path), zips last."""
    sources = []
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        stem = entry[:-4] if entry.endswith(".zip") else entry
        if not stem.startswith(_SET_PREFIXES):
            continue
        if entry.endswith(".zip") and os.path.isfile(path):
            sources.append((stem, path))
        elif os.path.isdir(path):
            sources.append((stem, path))
    folders = {s for s, p in sources if os.path.isdir(p)}
    # An extracted folder and its zip hold the same characters: read the folder only.
    return [(s, p) for s, p in sources if os.path.isdir(p) or s not in folders]


def _list_set(set_name, path):
    """{(alphabet, character): [(filename, reader)]} for one official set."""
    characters = collections.defaultdict(list)
    if os.path.isdir(path):
        for dirpath, _, files in os.walk(path):
            for filename in files:
                if filename.endswith(".png"):
                    rel = os.path.relpath(os.path.join(dirpath, filename), path).split(os.sep)
                    full = os.path.join(dirpath, filename)
                    characters[tuple(rel[-3:-1])].append((filename, full, None))
    else:
        try:
            archive = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as e:
            raise DataError(f"cannot open Omniglot zip {path}: {e}") from None
        for member in archive.namelist():
            parts = member.split("/")
            if member.endswith(".png") and len(parts) >= 3:
                characters[tuple(parts[-3:-1])].append((parts[-1], member, archive))
    if not characters:
        raise DataError(f"official Omniglot set {path} holds no <alphabet>/<character>/*.png files")
    return characters


def _official_id(set_path, alphabet, character, files):
    ids = set()
    for filename, _, _ in files:
        match = _FILE_PATTERN.match(filename)
        if not match:
            raise DataError(f"{set_path}: unexpected file {alphabet}/{character}/{filename}; "
                            "official names are <id>_<drawer>.png")
        ids.add(int(match.group(1)))
    if len(ids) != 1:
        raise DataError(f"{set_path}: {alphabet}/{character} mixes character ids {sorted(ids)}")
    return ids.pop()


def _read_member(source, reader):
    if reader is None:
        with open(source, "rb") as f:
            return f.read()
    return reader.read(source)


def load_official(directory: str, image_size: int) -> ClassDataset:
    sources = _official_sources(directory)
    if not sources:
        raise DataError(f"no official Omniglot zips or folders in {directory}")
    characters = {}
    for set_name, path in sources:
        for (alphabet, character), files in _list_set(set_name, path).items():
            official_id = _official_id(path, alphabet, character, files)
            if official_id in characters:
                raise DataError(f"Omniglot character id {official_id} is in both "
                                f"{characters[official_id][0]} and {path}; keep one copy")
            characters[official_id] = (path, f"{alphabet}/{character}", sorted(files))
    keys = sorted(characters)
    arrays, names = [], []
    for official_id in keys:
        path, name, files = characters[official_id]
        pixels = [image_io.decode_image_bytes(_read_member(source, reader), 1,
                                              f"{path}:{source}" if reader else source)
                  for _, source, reader in files]
        shapes = {p.shape for p in pixels}
        if len(shapes) != 1:
            raise DataError(f"{path}: {name} has images of different sizes {sorted(shapes)}")
        batch = image_io.to_unit_float(np.stack(pixels))
        arrays.append(image_io.resize_images(batch, image_size))
        names.append(name)
    return ClassDataset.from_class_arrays("omniglot", arrays, names, keys)
