"""LASIUM's config vocabulary: `lasium.*` (task sampling) on top of `generator.*`."""

import ml_collections

from fewgen_tf.config import add_generator, add_meta_learning, base_config


def add_lasium(config: ml_collections.ConfigDict, generator: str = "vae",
               strategy: str = "n") -> ml_collections.ConfigDict:
    """Add LASIUM's generator (`generator.*`) and task-sampling vocabulary
    (`lasium.*`), with the paper's Omniglot hyperparameters (REFERENCE_NOTES.md)."""
    add_generator(config, generator)
    config.lasium = ml_collections.ConfigDict()
    config.lasium.strategy = strategy        # n | ro | oc | cluster (COLA's clusters)
    config.lasium.variance = 0.5             # n: sigma^2
    config.lasium.alpha = 0.2                # ro / oc: interpolation factor
    config.lasium.epsilon = 0.0              # anchors: min pairwise SQUARED distance
    config.lasium.max_resamples = 1000       # anchors: redraws before a clear error
    config.lasium.translate = 0              # +- pixels of random shift of generated queries
    config.lasium.vae_real_anchors = True    # vae, augintae: anchors = encodings of real images
    return config


def pretrained_rgb_lasium(algorithm: str, generator: str, generator_path: str,
                          latent_dim: int) -> ml_collections.ConfigDict:
    """LASIUM with a pretrained RGB generator on an 84x84 image folder (CelebA with
    ProGAN, mini-ImageNet with BigBiGAN): RO alpha 0.4 as the paper uses for these
    latents, conv4 of 32 filters, 10000 meta-iterations."""
    if algorithm not in ("protonets", "maml"):
        raise ValueError(f"unknown variant {algorithm!r}; valid: protonets, maml")
    config = add_lasium(add_meta_learning(base_config(), algorithm), generator, "ro")
    config.pipeline = "lasium"
    config.data.name = "folder"
    config.data.image_size = 84
    config.data.channels = 3
    config.data.split = "random"
    config.generator.path = generator_path
    config.generator.latent_dim = latent_dim
    config.lasium.alpha = 0.4
    config.meta.inner_lr = 0.05
    config.meta.filters = 32
    config.meta.iterations = 10000
    config.train.queries = 5
    return config
