"""Meta-FAVAE on MNIST digits (paper Table 1, "MNIST" column). Variants as in
meta_favae_omniglot: favae | avae | figr.

The digit split (`data.split = "random"`, split_seed 0, split_sizes (5, 1, 4)): training
tasks from digits 0, 2, 3, 4, 5; the sample grid on digit 7; the generation protocol on
the novel digits 1, 6, 8, 9 (the same four novel digits as configs/augintae_mnist.py).
`data.subset = train` reads the training file (train-images-idx3, or the 5k csv of
../shared/data). MNIST keeps its white-on-black pixels.
"""

from fewgen_tf.methods.meta_favae.config import META_FAVAE_VARIANTS as VARIANTS  # noqa: F401 (for callers)
from fewgen_tf.config import base_config
from fewgen_tf.methods.meta_favae.config import add_meta_favae


def get_config(variant="favae"):
    config = add_meta_favae(base_config(), variant)  # (it checks the variant)
    config.pipeline = "meta_favae"
    config.data.name = "mnist"
    config.data.subset = "train"
    config.data.split = "random"
    config.data.split_seed = 0
    config.data.split_sizes = (5, 1, 4)   # digit classes: train, val, test
    config.data.image_size = 28
    config.meta_favae.grid_split = "val"
    config.gen_eval.split = "test"
    config.gen_eval.num_classes = 4
    return config
