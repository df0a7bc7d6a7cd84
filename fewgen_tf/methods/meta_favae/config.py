"""Meta-FAVAE's config vocabulary: `meta_favae.*` on top of `generator.*` and
`gen_eval.*`, and its checks (`check_meta_favae` for the generator's keys,
`check_meta_favae_pipeline` for the pipeline's), run by `pipelines.check_config`."""

import ml_collections

from fewgen_tf import config as config_lib
from fewgen_tf import settings
from fewgen_tf.config import add_generation_eval, add_generator
from fewgen_tf.errors import ConfigError
from fewgen_tf.settings import Setting, Vocabulary


META_FAVAE_VARIANTS = ("favae", "avae", "figr")
GAN_LOSSES = ("standard", "relativistic")
CODE_SOURCES = ("prior", "encoder")
UPSAMPLINGS = ("transposed", "resize_conv")   # nets.deconv_head


def _feedback_range(key, blend):
    try:
        low, high = (float(a) for a in blend)
    except (TypeError, ValueError):
        low, high = 1.0, 0.0
    if not 0.0 <= low <= high <= 1.0:
        raise ConfigError("meta_favae.feedback_range must satisfy 0 <= low <= high <= 1, "
                          f"got {tuple(blend) if hasattr(blend, '__iter__') else blend}")


META_FAVAE = Vocabulary(
    "meta_favae", "Meta-FAVAE, Meta-AVAE and FIGR (`add_meta_favae`, on top of "
    "`generator.*` with name `meta_favae` and `gen_eval.*`): Algorithm 1's defaults "
    "(n_VAE 5, n_D 1, n_G 5, g 4, K 10, beta 10, inner Adam 1e-4 / 1e-3, outer Adam "
    "1e-5 / 1e-4, lambda_ms 1 = generator.mode_seeking_weight). `generator.latent_dim` "
    "is the code c's size, `generator.iterations` the meta-iterations.", [
        Setting("meta_favae.variant", "favae", settings.one_of(META_FAVAE_VARIANTS),
                "favae (with feedback) | avae (without: Meta-AVAE) | figr (Reptile on the "
                "plain GAN G, D)"),
        Setting("meta_favae.vae", True, settings.boolean(), "False: FIGR"),
        Setting("meta_favae.feedback", True, settings.boolean(),
                "False: Meta-AVAE (the paper's ablation)"),
        Setting("meta_favae.noise_dim", 64, settings.integer(1), "z's size"),
        Setting("meta_favae.width", 1.0, settings.POSITIVE,
                "layer-width multiplier (1: ~8.0M parameters at 64x64)"),
        Setting("meta_favae.upsampling", "transposed", settings.one_of(UPSAMPLINGS),
                "Dec / G: transposed (4x4 stride-2 ConvT) | resize_conv (nearest x2, 3x3 "
                "conv: Odena 2016)"),
        Setting("meta_favae.task_size", 4, settings.integer(1),
                "g: images a task (and the seeds generate needs)"),
        Setting("meta_favae.meta_batch", 1,
                settings.integer(1, note="tasks adapted a meta-iteration; 1 is the "
                                         "paper's Algorithm 1"),
                "tasks a meta-iteration: B > 1 is batched Reptile (the mean of the B "
                "Phi2 - Phi1), spread over the replicas of `distribute` (a multiple of "
                "their count)"),
        Setting("meta_favae.rounds", 10, settings.integer(0), "K"),
        Setting("meta_favae.vae_steps", 5, settings.integer(0), "n_VAE"),
        Setting("meta_favae.d_steps", 1, settings.integer(0), "n_D"),
        Setting("meta_favae.g_steps", 5, settings.integer(0), "n_G"),
        Setting("meta_favae.inner_vae_lr", 1e-4, settings.POSITIVE,
                "alpha_1,enc = alpha_1,dec"),
        Setting("meta_favae.inner_gan_lr", 1e-3, settings.POSITIVE,
                "alpha_1,disc = alpha_1,gen"),
        Setting("meta_favae.inner_beta_1", 0.5, settings.number(0, 1, high_open=True),
                "inner Adam beta_1 (FAML's; the paper gives none)"),
        Setting("meta_favae.inner_beta_2", 0.999, settings.number(0, 1, high_open=True),
                "inner Adam beta_2"),
        Setting("meta_favae.outer_vae_lr", 1e-5, settings.POSITIVE,
                "alpha_2,enc = alpha_2,dec"),
        Setting("meta_favae.outer_gan_lr", 1e-4, settings.POSITIVE,
                "alpha_2,disc = alpha_2,gen"),
        Setting("meta_favae.beta", 10.0, settings.number(0), "Eq. 1's beta"),
        Setting("meta_favae.gan_loss", "standard", settings.one_of(GAN_LOSSES),
                "standard (Eq. 2-5) | relativistic"),
        Setting("meta_favae.feedback_generations", 4, settings.integer(1), "n: n^2 blends"),
        Setting("meta_favae.feedback_range", (0.1, 0.9),
                settings.checked_by(_feedback_range, "(low, high) with 0 <= low <= high <= 1"),
                "the blend coefficients' range"),
        Setting("meta_favae.code_source", "prior", settings.one_of(CODE_SOURCES),
                "generate's c: prior (Algorithm 2) | encoder"),
        Setting("meta_favae.generator_reconstruction", 0.0, settings.number(0),
                "lambda_rec of FAML's L1(x, G(z, c)) in the G steps (0: the paper; needs "
                "the VAE)"),
        Setting("meta_favae.fit_steps", 0,
                settings.integer(0, note="0: the paper's generation"),
                "generate: after the K rounds, Adam steps of G alone on mean|x_i - G(z, "
                "mu_i)| at the seeds' encoder means (needs the VAE)"),
        Setting("meta_favae.fit_lr", 1e-3, settings.POSITIVE, "their learning rate"),
        Setting("meta_favae.train_split", "train", settings.one_of(config_lib.SPLITS),
                "classes of the training tasks"),
        Setting("meta_favae.steps_per_epoch", 500, settings.integer(1),
                "meta-iterations per checkpoint / grid"),
        Setting("meta_favae.grid_split", "val", settings.one_of(config_lib.SPLITS),
                "fixed classes of samples/meta_favae_epochN.png"),
        Setting("meta_favae.grid_classes", 4, settings.integer(0), "grid rows (0: no grid)"),
        Setting("meta_favae.grid_images", 8, settings.integer(1), "generations a grid row"),
        Setting("meta_favae.evaluate", True, settings.boolean(),
                "run the generation protocol (gen_eval.*)"),
    ])


def add_meta_favae(config: ml_collections.ConfigDict,
                   variant: str = "favae") -> ml_collections.ConfigDict:
    """Add Meta-FAVAE (`generator.*` with name `meta_favae`, `meta_favae.*`, `gen_eval.*`).
    `variant`: favae | avae | figr (fewgen_tf/methods/meta_favae/model.py)."""
    if variant not in META_FAVAE_VARIANTS:
        raise ValueError(f"unknown Meta-FAVAE variant {variant!r}; valid: "
                         f"{', '.join(META_FAVAE_VARIANTS)}")
    add_generator(config, "meta_favae")
    config.generator.latent_dim = 64          # c (the code); noise z: meta_favae.noise_dim
    config.generator.iterations = 100000      # meta-iterations (the paper's n_iter)
    config.generator.mode_seeking_weight = 0.0 if variant == "figr" else 1.0
    if "gen_eval" not in config:
        add_generation_eval(config)
    return META_FAVAE.add_to(config, {"meta_favae.variant": variant,
                                      "meta_favae.vae": variant != "figr",
                                      "meta_favae.feedback": variant == "favae"})


def use_faithful_recipe(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The settings that made Meta-FAVAE / Meta-AVAE draw the seeds' character (issue 24,
    benchmarks/RESULTS.md "Fitting G to the seeds at generation time"; selected on
    held-out background characters): outer learning rates 10x Algorithm 1's (1e-4 / 1e-3),
    beta 1 (at 10 the posterior collapses onto the prior and c carries nothing), FAML's
    L1 term at 50 in the inner G steps (G learns to redraw x_i from its code c_i), c from
    the adapted encoder of the seeds, and 200 Adam steps (3e-3) of G alone on the seeds
    after the K rounds at generation. Everything else is Algorithm 1's. The one home of
    that recipe (configs/meta_favae_omniglot.py; not measured on MNIST or faces yet);
    FIGR (no VAE) keeps the paper's settings."""
    m = config.meta_favae
    if not m.vae:
        return config
    m.outer_vae_lr, m.outer_gan_lr = 1e-4, 1e-3
    m.beta = 1.0
    m.generator_reconstruction = 50.0
    m.code_source = "encoder"
    m.fit_steps, m.fit_lr = 200, 3e-3  # (selected on val characters: RESULTS.md)
    return config


def check_settings(values) -> None:
    """`values`: `meta_favae.*` key (without the prefix) -> value (at least vae,
    feedback, generator_reconstruction, fit_steps, code_source). Each key's rule and
    what needs the VAE. The model's
    `Settings` checks itself with this too."""
    for name, value in values.items():
        if f"meta_favae.{name}" in META_FAVAE.settings:
            META_FAVAE.rule(f"meta_favae.{name}")(f"meta_favae.{name}", value)
    vae = values["vae"]
    if values["feedback"] and not vae:
        raise ConfigError("meta_favae.feedback needs the VAE (its blends feed the "
                          "encoder): set meta_favae.vae=True or feedback=False")
    if values["generator_reconstruction"] and not vae:
        raise ConfigError("meta_favae.generator_reconstruction needs the VAE (its codes c "
                          "of the task's images): set it to 0 for FIGR")
    if values["fit_steps"] and not vae:
        raise ConfigError("meta_favae.fit_steps needs the VAE (G is fitted at the seeds' "
                          "encoder codes): set it to 0 for FIGR")
    if values["code_source"] == "encoder" and not vae:
        raise ConfigError("meta_favae.code_source='encoder' needs the VAE (FIGR has no "
                          "encoder): use code_source='prior'")


def check_meta_favae(config) -> None:
    """`meta_favae.*` of the Meta-FAVAE generator (wherever it is used)."""
    if "meta_favae" in config:
        check_settings(dict(config.meta_favae.items()))


def check_meta_favae_pipeline(config) -> None:
    """The pipeline `meta_favae`: novel evaluation classes, and meta-iterations to train
    unless the meta-weights come from generator.from_workdir. (That `meta_favae.meta_batch`
    spreads over the strategy's replicas is checked where the strategy exists.)"""
    check_meta_favae(config)
    m, g = config.meta_favae, config.generator
    if "gen_eval" in config and m.evaluate and config.gen_eval.split == m.train_split:
        raise ConfigError(f"gen_eval.split {config.gen_eval.split!r} is the training split "
                          "(meta_favae.train_split): its classes would not be novel")
    if not g.from_workdir:
        config_lib.integer(1)("generator.iterations (meta-iterations)", g.iterations)


VOCABULARIES = (META_FAVAE,)
