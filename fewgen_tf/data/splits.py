"""Class splits: which classes are for meta-training, validation and testing.

Splits are defined on `ClassDataset.class_keys` with fixed seeds, so every loader of
the same data (Omniglot npz or official zips) gives the same classes in each part.
"""

from fewgen_tf import config as config_lib
from fewgen_tf.data import omniglot, rng
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.data.split_sizes import LAKE_VAL_SIZE, LASIUM_SIZES
from fewgen_tf.errors import ConfigError, DataError

PARTS = config_lib.SPLITS  # ("train", "val", "test")
# Fixed seeds of the published splits: changing them changes every reported number.
_LASIUM_SPLIT_SEED = 2019
_LAKE_SPLIT_SEED = 2015


def _parts_by_key(dataset, key_groups):
    """{part: subset} from {part: list of class keys}; classes sorted by key in each part."""
    index_of = {k: i for i, k in enumerate(dataset.class_keys)}
    return {part: dataset.subset([index_of[k] for k in sorted(keys)], f"{dataset.name}/{part}")
            for part, keys in key_groups.items()}


def lasium_split(dataset: ClassDataset):
    """LASIUM's Omniglot split: all 1623 characters pooled, shuffled with a fixed seed,
    1200 train / 100 val / 323 test (the authors' code does the same with its own seed)."""
    keys = sorted(dataset.class_keys)
    if keys != list(range(1, omniglot.NUM_CHARACTERS + 1)):
        raise DataError(
            f"split 'lasium' needs all {omniglot.NUM_CHARACTERS} Omniglot characters (both "
            f"official sets); {dataset.name} has {len(keys)}. Use data.split='random' for a part.")
    order = [keys[i] for i in rng.permutation(rng.derive_key(_LASIUM_SPLIT_SEED), len(keys))]
    a, b = LASIUM_SIZES[0], LASIUM_SIZES[0] + LASIUM_SIZES[1]
    return _parts_by_key(dataset, {"train": order[:a], "val": order[a:b], "test": order[b:]})


def lake_split(dataset: ClassDataset):
    """Lake et al.'s split: train = 900 background characters, val = the other 64
    (chosen by a fixed seed), test = all 659 evaluation characters."""
    background = sorted(k for k in dataset.class_keys if omniglot.is_background(k))
    evaluation = sorted(k for k in dataset.class_keys if not omniglot.is_background(k))
    if len(background) != omniglot.NUM_BACKGROUND or len(evaluation) != omniglot.NUM_EVALUATION:
        raise DataError(
            f"split 'lake' needs the {omniglot.NUM_BACKGROUND} background and "
            f"{omniglot.NUM_EVALUATION} evaluation characters; {dataset.name} has "
            f"{len(background)} and {len(evaluation)}. Use data.split='random' for a part.")
    order = [background[i] for i in
             rng.permutation(rng.derive_key(_LAKE_SPLIT_SEED), len(background))]
    return _parts_by_key(dataset, {"train": order[LAKE_VAL_SIZE:],
                                   "val": order[:LAKE_VAL_SIZE], "test": evaluation})


def _resolve_sizes(sizes, num_classes):
    sizes, are_counts = config_lib.check_split_sizes(sizes)
    if are_counts:
        counts = [int(s) for s in sizes]
    else:
        counts = [int(round(s * num_classes)) for s in sizes[:2]]
        counts.append(num_classes - sum(counts))
    if sum(counts) > num_classes:
        raise DataError(f"data.split_sizes {sizes} asks for {sum(counts)} classes; "
                        f"the dataset has {num_classes}")
    return counts


def random_split(dataset: ClassDataset, sizes=(0.6, 0.2, 0.2), seed=0):
    """Disjoint parts of the classes, shuffled by `seed`; `sizes` are counts or fractions."""
    n_train, n_val, n_test = _resolve_sizes(sizes, dataset.num_classes)
    keys = sorted(dataset.class_keys)
    order = [keys[i] for i in rng.permutation(rng.derive_key("random-split", seed), len(keys))]
    return _parts_by_key(dataset, {
        "train": order[:n_train], "val": order[n_train:n_train + n_val],
        "test": order[n_train + n_val:n_train + n_val + n_test]})


def all_split(dataset: ClassDataset):
    """Every part is every class: for data used only for evaluation (MNIST, one folder)."""
    return {part: dataset for part in PARTS}


SCHEMES = {
    "lasium": lambda d, cfg: lasium_split(d),
    "lake": lambda d, cfg: lake_split(d),
    "random": lambda d, cfg: random_split(d, cfg.split_sizes, cfg.split_seed),
    "all": lambda d, cfg: all_split(d),
}


def split_dataset(dataset: ClassDataset, scheme: str, data_config) -> dict:
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown data.split {scheme!r}; valid: {', '.join(sorted(SCHEMES))}")
    parts = SCHEMES[scheme](dataset, data_config)
    assert set(parts) == set(PARTS)
    return parts
