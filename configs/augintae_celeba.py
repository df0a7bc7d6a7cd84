"""AugIntAE on faces (paper section 5.2, CelebA), for users with CelebA identity folders.

`data.root` must hold one sub-folder of images per identity (`data.name = folder`);
identities are split at random (60 / 20 / 20%, `data.split_sizes`), the autoencoder trains
on the train and val identities with labels dropped and the generation protocol runs on
the unseen test identities. 64x64 RGB (`data.image_size`; 128 adds the paper's extra
half-width layer automatically: augintae_nets' DCGAN widths follow the image side),
DCGAN networks, latent 512 on the unit sphere, natural-image augmentation ranges
(rotation +-10, translation +-8, shear +-3, colour jitter, symmetric fill).
The 32 CelebA faces in ../shared/data/celeba32 are ONE folder, hence one class: enough
to check that the 64x64 model builds and generates (16.7M parameters), not to run the
pipeline, whose protocol needs unseen identities.
"""

from fewgen_tf.methods.augintae.config import AUGINTAE_VARIANTS as VARIANTS  # noqa: F401 (for callers)
from fewgen_tf.config import add_augmentation, base_config
from fewgen_tf.methods.augintae.config import add_augintae


def get_config(variant="augintae"):
    config = base_config()
    add_augmentation(config, "natural")
    config = add_augintae(config, variant)  # (it checks the variant; keeps augment.*)
    config.pipeline = "augintae"
    config.data.name = "folder"
    config.data.channels = 3
    config.data.image_size = 64
    config.data.split = "random"
    config.augintae.architecture = "dcgan"
    config.augintae.train_splits = ("train", "val")
    config.generator.latent_dim = 512
    config.gen_eval.split = "test"
    return config
