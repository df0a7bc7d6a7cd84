"""AugIntAE's config vocabulary: `augintae.*` on top of `generator.*`, `augment.*` and
`gen_eval.*`, and its checks (`check_augintae` for the generator's keys,
`check_augintae_pipeline` for the pipeline's), run by `pipelines.check_config`."""

import ml_collections

from fewgen_tf import config as config_lib
from fewgen_tf import settings
from fewgen_tf.config import add_augmentation, add_generation_eval, add_generator
from fewgen_tf.errors import ConfigError
from fewgen_tf.settings import Setting, Vocabulary


AUGINTAE_VARIANTS = ("augintae", "ae", "intae")
LR_SCHEDULES = ("paper", "cuts", "constant")  # methods/augintae/model.py: build_from_config
# (D's fake, D's real, G's) LSGAN targets: see methods/augintae/model.py's module doc
LSGAN_TARGETS = (-1.0, 1.0, 0.0)


AUGINTAE = Vocabulary(
    "augintae", "AugIntAE (`add_augintae`, on top of `generator.*` with name `augintae`, "
    "`augment.*` and `gen_eval.*`): the paper's character settings (appendix A.1), latent "
    "32 on the unit sphere, Adam 1e-3, 100 passes, batch 64, an LSGAN discriminator "
    "weighted by k * gamma (Eq. 2-6).", [
        Setting("augintae.variant", "augintae", settings.one_of(AUGINTAE_VARIANTS),
                "the training loss: augintae | ae | intae (the paper's baselines)"),
        Setting("augintae.architecture", "auto",
                settings.text("auto | infogan | dcgan, judged with the image size when "
                              "the model is built, before it trains"),
                "auto (InfoGAN for characters, DCGAN for RGB) | infogan | dcgan"),
        Setting("augintae.width", 1.0, settings.POSITIVE,
                "layer-width multiplier (1 = the paper's)"),
        Setting("augintae.adversarial", True, settings.boolean(),
                "False: no discriminator, lr x0.1 at 35% and 70%"),
        Setting("augintae.lr_schedule", "paper", settings.one_of(LR_SCHEDULES),
                "paper (cuts only without D) | cuts | constant"),
        # 30 code steps and 50 G steps at 1e-3 were chosen on held-out background
        # characters (benchmarks/RESULTS.md); 0 and 0 are the paper's generation.
        Setting("augintae.refine_steps", 30, settings.integer(0),
                "generate: Adam steps fitting the seeds' codes (0: the encoder's codes)"),
        Setting("augintae.refine_lr", 0.05, settings.POSITIVE, "their learning rate"),
        Setting("augintae.adapt_steps", 50, settings.integer(0),
                "generate: Adam steps fitting a copy of G's weights to the seeds (0: G as "
                "trained)"),
        Setting("augintae.adapt_lr", 1e-3, settings.POSITIVE, "their learning rate"),
        # (0, 1, 1) caps D's separation at 1, so Eq. 5's k can only fall (to 0 by pass 4).
        Setting("augintae.lsgan_targets", LSGAN_TARGETS,
                settings.checked_by(lambda key, value: check_lsgan_targets(value),
                                    "three numbers with real > fake"),
                "LSGAN targets: D's fake, D's real, G's"),
        Setting("augintae.train_splits", ("train",),
                settings.checked_by(lambda key, value: check_train_splits(value),
                                    "a tuple of train | val | test"),
                "splits whose images (labels dropped) train it"),
        Setting("augintae.interpolation_pairs", 6, settings.integer(0),
                "rows of samples/interpolations.png"),
        Setting("augintae.interpolation_steps", 8, settings.integer(1),
                "images per seed-to-seed path"),
    ])


def add_augintae(config: ml_collections.ConfigDict,
                 variant: str = "augintae") -> ml_collections.ConfigDict:
    """Add AugIntAE (`generator.*` with name `augintae`, `augintae.*`, `augment.*`,
    `gen_eval.*`). `variant`: augintae | ae | intae (fewgen_tf/methods/augintae/model.py)."""
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
    return AUGINTAE.add_to(config, {"augintae.variant": variant})


def check_augintae(config) -> None:
    """`augintae.*` of the AugIntAE generator (wherever it is used: its pipeline, LASIUM)."""
    AUGINTAE.check(config)


def check_lsgan_targets(targets):
    """`augintae.lsgan_targets` as three floats (D's fake, D's real, G's target); a
    ConfigError unless they are three numbers with real > fake (D must separate them)."""
    try:
        values = tuple(float(t) for t in targets)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not values[1] > values[0]:
        raise ConfigError(f"augintae.lsgan_targets must be three numbers (D's fake, D's real, "
                          f"G's target) with real > fake, got {targets!r}")
    return values


def check_train_splits(names):
    names = tuple(names)
    unknown = [n for n in names if n not in config_lib.SPLITS]
    if not names or unknown:
        raise ConfigError(f"augintae.train_splits {names} must name splits among "
                          f"{sorted(config_lib.SPLITS)}")


def check_augintae_pipeline(config) -> None:
    """The pipeline `augintae`: it trains on `augintae.train_splits` (labels dropped) and
    evaluates on the classes of `gen_eval.split`, which must not be among them."""
    check_augintae(config)
    names = tuple(config.augintae.train_splits)
    if config.gen_eval.split in names:
        raise ConfigError(f"gen_eval.split {config.gen_eval.split!r} is also a training split "
                          f"(augintae.train_splits {names}): its classes would not be novel")


VOCABULARIES = (AUGINTAE,)
