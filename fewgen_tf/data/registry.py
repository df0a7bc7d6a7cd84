"""Dataset names in configs -> loaders, with an in-memory cache.

`load_splits(config.data)` is what pipelines call: it loads (once per process) the
dataset named by `data.name` and splits its classes by `data.split`.
"""

import collections
import os

from fewgen_tf import config as config_lib
from fewgen_tf.data import cifar, folder, mnist, omniglot, splits, synthetic

# name -> (loader(data_config) -> ClassDataset, the split schemes that make sense for it:
# fewgen_tf.config.DATASET_SPLITS, where `data.*` is declared and checked)
_SPLITS = config_lib.DATASET_SPLITS
DATASETS = {
    "omniglot": (lambda c: omniglot.load_omniglot(_root(c), c.image_size, c.format),
                 _SPLITS["omniglot"]),
    "mnist": (lambda c: mnist.load_mnist(_root(c), c.subset, c.image_size),
              _SPLITS["mnist"]),
    "folder": (lambda c: folder.load_image_folder(_root(c), c.image_size, c.channels,
                                                  c.center_crop),
               _SPLITS["folder"]),
    "synthetic": (lambda c: synthetic.make_synthetic(c.num_classes, c.images_per_class,
                                                     c.image_size, c.synthetic_seed),
                  _SPLITS["synthetic"]),
    "cifar10": (lambda c: cifar.load_cifar(_root(c), "cifar10", c.subset,
                                           c.image_size, c.channels),
                _SPLITS["cifar10"]),
    "cifar100": (lambda c: cifar.load_cifar(_root(c), "cifar100", c.subset,
                                            c.image_size, c.channels),
                 _SPLITS["cifar100"]),
}
assert set(DATASETS) == set(_SPLITS)


def _root(data_config):
    root = data_config.root or os.environ.get("FEWGEN_DATA_DIR", "")
    return os.path.expanduser(root)


def _cache_key(data_config):
    """The config values that determine a dataset's pixels (not its split)."""
    c = data_config
    return (c.name, _root(c), c.image_size, c.format, c.subset, c.channels,
            bool(c.center_crop), c.num_classes, c.images_per_class, c.synthetic_seed)


_CACHE = collections.OrderedDict()
_CACHE_SIZE = 4


def load_dataset(data_config):
    """The whole dataset named by `data_config.name`, decoded once per process."""
    key = _cache_key(data_config)
    if key not in _CACHE:
        _CACHE[key] = DATASETS[data_config.name][0](data_config)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


def load_splits(data_config) -> dict:
    """{'train', 'val', 'test'} -> ClassDataset for `data.name` split by `data.split`
    (the section checked first: a caller outside a run, e.g. a notebook, gets the same
    one-line errors as a run)."""
    config_lib.check_data(data_config)
    dataset = load_dataset(data_config)
    return splits.split_dataset(dataset, data_config.split, data_config)
