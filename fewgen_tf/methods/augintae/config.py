"""AugIntAE's config vocabulary: `augintae.*` on top of `generator.*`, `augment.*` and
`gen_eval.*`, and its checks (`check_augintae` for the generator's keys,
`check_augintae_pipeline` for the pipeline's), run by `pipelines.check_config`."""

import ml_collections

from fewgen_tf import config as config_lib
from fewgen_tf.config import add_augmentation, add_generation_eval, add_generator
from fewgen_tf.errors import ConfigError


AUGINTAE_VARIANTS = ("augintae", "ae", "intae")
LR_SCHEDULES = ("paper", "cuts", "constant")  # methods/augintae/model.py: build_from_config
# (D's fake, D's real, G's) LSGAN targets: see methods/augintae/model.py's module doc
LSGAN_TARGETS = (-1.0, 1.0, 0.0)


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
    config.augintae.lr_schedule = "paper"     # paper (cuts only without D) | cuts | constant
    config.augintae.refine_steps = 30         # generate: Adam steps fitting the seeds' codes
    config.augintae.refine_lr = 0.05          # (0: the encoder's codes, the paper's; 30:
    # chosen on held-out background characters, benchmarks/RESULTS.md)
    config.augintae.adapt_steps = 50          # generate: Adam steps fitting a copy of G's
    config.augintae.adapt_lr = 1e-3           # weights to the seeds (0: G as trained, the
    # paper's; 50 at 1e-3 chosen on held-out background characters, benchmarks/RESULTS.md)
    config.augintae.lsgan_targets = LSGAN_TARGETS  # D's fake / real and G's targets:
    # (0, 1, 1) caps D's separation at 1, so Eq. 5's k can only fall (to 0 by pass 4)
    config.augintae.train_splits = ("train",)  # splits whose images (labels dropped) train it
    config.augintae.interpolation_pairs = 6   # rows of samples/interpolations.png
    config.augintae.interpolation_steps = 8   # images per seed-to-seed path
    return config


AUGINTAE_RULES = {
    "augintae.variant": config_lib.one_of(AUGINTAE_VARIANTS),
    "augintae.width": config_lib.POSITIVE,
    "augintae.adversarial": config_lib.boolean(),
    "augintae.lr_schedule": config_lib.one_of(LR_SCHEDULES),
    "augintae.refine_steps": config_lib.integer(0),
    "augintae.refine_lr": config_lib.POSITIVE,
    "augintae.adapt_steps": config_lib.integer(0),
    "augintae.adapt_lr": config_lib.POSITIVE,
    "augintae.interpolation_pairs": config_lib.integer(0),
    "augintae.interpolation_steps": config_lib.integer(1),
}
# (augintae.architecture and the image sizes it takes: nets/infogan_dcgan.py, when the
# model is built, before it trains.)


def check_augintae(config) -> None:
    """`augintae.*` of the AugIntAE generator (wherever it is used: its pipeline, LASIUM)."""
    config_lib.check_rules(config, AUGINTAE_RULES)
    found, targets = config_lib.lookup(config, "augintae.lsgan_targets")
    if found:
        check_lsgan_targets(targets)


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


def check_augintae_pipeline(config) -> None:
    """The pipeline `augintae`: it trains on `augintae.train_splits` (labels dropped) and
    evaluates on the classes of `gen_eval.split`, which must not be among them."""
    check_augintae(config)
    names = tuple(config.augintae.train_splits)
    unknown = [n for n in names if n not in config_lib.SPLITS]
    if not names or unknown:
        raise ConfigError(f"augintae.train_splits {names} must name splits among "
                          f"{sorted(config_lib.SPLITS)}")
    if config.gen_eval.split in names:
        raise ConfigError(f"gen_eval.split {config.gen_eval.split!r} is also a training split "
                          f"(augintae.train_splits {names}): its classes would not be novel")
