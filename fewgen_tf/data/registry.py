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
    "omniglot": (lambda c: omniglot.load_omniglot(_root(c), c.image_size, c.get("format", "auto")),
                 _SPLITS["omniglot"]),
    "mnist": (lambda c: mnist.load_mnist(_root(c), c.get("subset", "test"), c.image_size),
              _SPLITS["mnist"]),
    "folder": (lambda c: folder.load_image_folder(_root(c), c.image_size, c.get("channels", 3),
                                                  c.get("center_crop", True)),
               _SPLITS["folder"]),
    "synthetic": (lambda c: synthetic.make_synthetic(c.get("num_classes", 100),
                                                     c.get("images_per_class", 20),
                                                     c.image_size, c.get("synthetic_seed", 0)),
                  _SPLITS["synthetic"]),
    "cifar10": (lambda c: cifar.load_cifar(_root(c), "cifar10", c.get("subset", "test"),
                                           c.image_size, c.get("channels", 3)),
                _SPLITS["cifar10"]),
    "cifar100": (lambda c: cifar.load_cifar(_root(c), "cifar100", c.get("subset", "test"),
                                            c.image_size, c.get("channels", 3)),
                 _SPLITS["cifar100"]),
}
assert set(DATASETS) == set(_SPLITS)


def _root(data_config):
    root = data_config.get("root") or os.environ.get("FEWGEN_DATA_DIR", "")
    return os.path.expanduser(root)


def _cache_key(data_config):
    """The config values that determine a dataset's pixels (not its split)."""
    c = data_config
    return (c.name, _root(c), c.image_size, c.get("format", "auto"), c.get("subset", "test"),
            c.get("channels", 3), bool(c.get("center_crop", True)), c.get("num_classes", 100),
            c.get("images_per_class", 20), c.get("synthetic_seed", 0))


_CACHE = collections.OrderedDict()
_CACHE_SIZE = 4


def load_dataset(data_config):
    """The whole dataset named by `data_config.name`, decoded once per process."""
    config_lib.check_value("data.name", data_config.name)
    config_lib.check_value("data.image_size", data_config.image_size)
    key = _cache_key(data_config)
    if key not in _CACHE:
        _CACHE[key] = DATASETS[data_config.name][0](data_config)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


def load_splits(data_config) -> dict:
    """{'train', 'val', 'test'} -> ClassDataset for `data.name` split by `data.split`."""
    config_lib.check_base({"data": data_config})  # name, image size, split, split sizes
    dataset = load_dataset(data_config)
    return splits.split_dataset(dataset, data_config.split, data_config)
