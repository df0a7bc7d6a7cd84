"""AugIntAE's config vocabulary: `augintae.*` on top of `generator.*`, `augment.*` and
`gen_eval.*`."""

import ml_collections

from fewgen_tf.config import add_augmentation, add_generation_eval, add_generator


AUGINTAE_VARIANTS = ("augintae", "ae", "intae")


def add_augintae(config: ml_collections.ConfigDict,
                 variant: str = "augintae") -> ml_collections.ConfigDict:
    """Add AugIntAE (`generator.*` with name `augintae`, `augintae.*`, `augment.*`,
    `gen_eval.*`) with the paper's character settings (appendix A.1): latent 32 on the
    unit sphere, Adam 1e-3, 100 passes, the InfoGAN networks (`architecture` auto picks
    DCGAN for RGB), an LSGAN discriminator weighted by k * gamma (Eq. 2-6).
    `variant`: augintae | ae | intae (fewgen_tf/methods/augintae/model.py)."""
    if variant not in AUGINTAE_VARIANTS:
        raise ValueError(f"unknown AugIntAE variant {variant!r}; valid: "
                         f"{', '.join(AUGINTAE_VARIANTS)}")
    add_generator(config, "augintae")
    config.generator.latent_dim = 32
    config.generator.lr = 1e-3
    config.generator.batch_size = 64
    config.generator.epochs = 100
    if "augment" not in config:
        add_augmentation(config, "characters")
    if "gen_eval" not in config:
        add_generation_eval(config)
    config.augintae = ml_collections.ConfigDict()
    config.augintae.variant = variant         # augintae | ae | intae: the training loss
    config.augintae.architecture = "auto"     # auto | infogan (characters) | dcgan (RGB)
    config.augintae.width = 1.0               # layer-width multiplier (1 = the paper's)
    config.augintae.adversarial = True        # False: no discriminator, lr x0.1 at 35%, 70%
    config.augintae.lsgan_targets = (-1.0, 1.0, 0.0)  # D's fake / real and G's targets:
    # (0, 1, 1) caps D's separation at 1, so Eq. 5's k can only fall (to 0 by pass 4)
    config.augintae.train_splits = ("train",)  # splits whose images (labels dropped) train it
    config.augintae.interpolation_pairs = 6   # rows of samples/interpolations.png
    config.augintae.interpolation_steps = 8   # images per seed-to-seed path
    return config
