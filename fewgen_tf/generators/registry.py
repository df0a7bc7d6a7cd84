"""`config.generator.name` -> a generator: the one place every generator of the library
registers, whatever its paper.

Each entry says how to build the model from the `generator.*` vocabulary (compiled
when it trains) and how it trains: `"epochs"` (passes over the training images with
`fit`, `generator.epochs`), `"iterations"` (meta-trained, `generator.iterations`),
`"pipeline"` (trained in stages by its own pipeline: COLA) or `None` (pretrained,
loaded from `generator.path`). Everything registered honours the
DESIGN's generator contract (`latent_dim`, `sample_latents`, `decode`), so any of them
can be evaluated by the generative metrics and be LASIUM's task source.
"""

import dataclasses
from typing import Callable, Optional

import keras

from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import augintae, msgan, pretrained, vae


@dataclasses.dataclass(frozen=True)
class GeneratorEntry:
    build: Callable  # (config, image_shape) -> keras.Model (compiled when it trains)
    budget: Optional[str]  # "epochs" | "iterations" | "pipeline" | None (pretrained)
    # build takes `total_steps=` (the training length, e.g. for a learning-rate schedule)
    wants_total_steps: bool = False


def _build_vae(config, image_shape):
    g = config.generator
    builder = vae.omniglot_vae if image_shape[-1] == 1 and image_shape[0] <= 32 else vae.rgb_vae
    model = builder(tuple(image_shape), g.latent_dim, seed=config.seed)
    model.compile(optimizer=keras.optimizers.Adam(g.lr), jit_compile=bool(g.jit_compile))
    return model


def _build_msgan(config, image_shape):
    g = config.generator
    if g.mixed_bfloat16:  # measured for the GAN step only
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = msgan.omniglot_msgan(tuple(image_shape), g.latent_dim, g.mode_seeking_weight,
                                     seed=config.seed)
        model.compile(g_optimizer=keras.optimizers.Adam(g.lr, beta_1=0.5),
                      d_optimizer=keras.optimizers.Adam(g.lr, beta_1=0.5),
                      jit_compile=bool(g.jit_compile))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model


def _build_augintae(config, image_shape, total_steps=None):
    """AugIntAE / AE / IntAE (`augintae.variant`): one entry, because the three are one
    model class with the same networks and `generator.*` keys, differing only in the loss.
    Adam(generator.lr) for E+G and for D; without the discriminator the E+G rate is cut
    x0.1 at 35% and 70% of `total_steps` (appendix A.1), with it it stays constant."""
    from fewgen_tf.data.augment import AugmentationRanges

    g, options = config.generator, config.get("augintae") or {}
    adversarial = bool(options.get("adversarial", True))
    ranges = (AugmentationRanges.from_config(config.augment) if "augment" in config
              else AugmentationRanges.characters() if image_shape[-1] == 1
              else AugmentationRanges.natural())
    model = augintae.build_augintae(
        image_shape, g.latent_dim, options.get("variant", "augintae"),
        options.get("architecture", "auto"), float(options.get("width", 1.0)), adversarial,
        ranges, seed=config.seed,
        targets=tuple(options.get("lsgan_targets", augintae.LSGAN_TARGETS)))
    lr = g.lr
    if not adversarial and total_steps:
        cuts = [max(1, int(0.35 * total_steps)), max(2, int(0.7 * total_steps))]
        lr = keras.optimizers.schedules.PiecewiseConstantDecay(cuts, [g.lr, g.lr / 10,
                                                                      g.lr / 100])
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  d_optimizer=keras.optimizers.Adam(g.lr) if adversarial else None,
                  jit_compile=False)  # (the augmentation's affine transform has no XLA kernel)
    return model


def _build_cola(config, image_shape):
    """COLA / sCOLA / GLO for sampling (G and the fitted mixture, no codes): trained in
    stages by the `cola` / `scola` pipelines (steps/cola.py), reused through
    `generator.from_workdir` (e.g. as LASIUM's task source). Latent: K + d with
    K = cola.num_clusters and d = generator.latent_dim."""
    from fewgen_tf.generators import cola

    options = config.get("cola") or {}
    return cola.build_cola(image_shape, int(options.get("num_clusters", 10)),
                           config.generator.latent_dim, options.get("architecture", "infogan"),
                           bool(options.get("conditional_bn", False)),
                           float(options.get("width", 1.0)), seed=config.seed,
                           mixture_rank=options.get("mixture_rank", 0))


def _build_meta_favae(config, image_shape):
    """Meta-FAVAE / Meta-AVAE / FIGR (`meta_favae.*`, generators/meta_favae.py), with the
    outer Adams of Algorithm 1 (meta-trained by the `meta_favae` pipeline,
    `generator.iterations` meta-iterations). c has `generator.latent_dim` dimensions."""
    from fewgen_tf.generators import meta_favae

    options = config.get("meta_favae") or {}
    settings = meta_favae.settings_from_config(config)
    model = meta_favae.build_meta_favae(
        image_shape, config.generator.latent_dim, int(options.get("noise_dim", 64)),
        float(options.get("width", 1.0)), settings, seed=config.seed)
    return meta_favae.compile_meta_favae(
        model, float(options.get("outer_vae_lr", 1e-5)), float(options.get("outer_gan_lr", 1e-4)),
        jit_compile=bool(config.generator.jit_compile))


def _build_pretrained(kind):
    def build(config, image_shape):
        return pretrained.PretrainedGenerator(config.generator.path, kind, image_shape[0])
    return build


GENERATORS = {
    "vae": GeneratorEntry(_build_vae, "epochs"),
    "msgan": GeneratorEntry(_build_msgan, "epochs"),
    "augintae": GeneratorEntry(_build_augintae, "epochs", wants_total_steps=True),
    "bigbigan": GeneratorEntry(_build_pretrained("bigbigan"), None),
    "progan": GeneratorEntry(_build_pretrained("progan"), None),
    "cola": GeneratorEntry(_build_cola, "pipeline"),  # trained by pipelines cola / scola
    "meta_favae": GeneratorEntry(_build_meta_favae, "iterations"),  # pipeline meta_favae
}


def entry(name: str) -> GeneratorEntry:
    if name not in GENERATORS:
        raise ConfigError(f"unknown generator.name {name!r}; valid: "
                          f"{', '.join(sorted(GENERATORS))}")
    return GENERATORS[name]


def is_trainable(name: str) -> bool:
    return entry(name).budget is not None


def build_generator(config, image_shape, total_steps=None):
    """The generator named by `config.generator.name` for images of `image_shape`,
    initialised from `config.seed` (call inside the run's `strategy.scope()`).
    `total_steps` (the training length) reaches builders that ask for it."""
    found = entry(config.generator.name)
    keras.utils.set_random_seed(config.seed)
    if found.wants_total_steps:
        return found.build(config, image_shape, total_steps=total_steps)
    return found.build(config, image_shape)
