"""AugIntAE on MNIST digits (paper section 5.2's MNIST model; EMNIST letters, the
paper's novel classes, are not available here).

The novel classes are held-out DIGITS instead: the `random` split gives 6 digits to
train on and 4 novel ones for the few-shot generation protocol. `data.subset = train`
reads the training file (train-images-idx3 or the 5k csv). Variants as in
augintae_omniglot: augintae | ae | intae.

MNIST is white on BLACK: the character ranges are kept, but `augment.kind = "natural"`
selects the symmetric (edge-repeating) fill, which keeps a black border black; the
characters' white fill would paint a white frame around shifted digits. (Colour jitter
does not touch grey images.)
"""

from fewgen_tf.methods.augintae.config import AUGINTAE_VARIANTS as VARIANTS  # noqa: F401 (for callers)
from fewgen_tf.config import base_config
from fewgen_tf.methods.augintae.config import add_augintae


def get_config(variant="augintae"):
    config = add_augintae(base_config(), variant)  # (it checks the variant)
    config.pipeline = "augintae"
    config.data.name = "mnist"
    config.data.subset = "train"
    config.data.split = "random"
    config.data.split_sizes = (6, 0, 4)   # digit classes: train, val, test
    config.data.image_size = 28
    config.gen_eval.split = "test"
    config.gen_eval.num_classes = 4
    config.augment.kind = "natural"       # symmetric fill only; ranges stay the characters'
    return config
