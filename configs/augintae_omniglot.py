"""AugIntAE on Omniglot (paper section 5.2, Table 2 "Omniglot (train -> test)").

Variants (`augintae.variant`, one model class, the same networks and data):
  augintae  Eq. 1: decode slerp(E(A), E(B), alpha) into C, plus k * gamma * LSGAN loss;
  ae        reconstruct C, plus the GAN loss;
  intae     reconstruct C, GAN loss on reconstructions and on interpolations of
            different images.
Data: the `lake` split; the autoencoder trains on all 964 background characters
(train + val parts, labels dropped) and is evaluated on the 659 evaluation characters
(`gen_eval.split = "test"`). InfoGAN 4-layer networks, latent 32 on the unit sphere,
Adam 1e-3, 100 passes; character augmentation ranges (rotation +-20, translation +-4,
scale 0.8-1.2, shear +-6). data.root (or FEWGEN_DATA_DIR) must hold omniglot/.
"""

from fewgen_tf.methods.augintae.config import AUGINTAE_VARIANTS as VARIANTS  # noqa: F401 (for callers)
from fewgen_tf.config import base_config
from fewgen_tf.methods.augintae.config import add_augintae


def get_config(variant="augintae"):
    config = add_augintae(base_config(), variant)  # (it checks the variant)
    config.pipeline = "augintae"
    config.data.name = "omniglot"
    config.data.split = "lake"
    config.data.image_size = 28
    config.augintae.train_splits = ("train", "val")  # the 964 background characters
    config.gen_eval.split = "test"                    # the 659 evaluation characters
    return config
