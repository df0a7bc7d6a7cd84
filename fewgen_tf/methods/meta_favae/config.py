"""Meta-FAVAE's config vocabulary: `meta_favae.*` on top of `generator.*` and
`gen_eval.*`."""

import ml_collections

from fewgen_tf.config import add_generation_eval, add_generator


META_FAVAE_VARIANTS = ("favae", "avae", "figr")


def add_meta_favae(config: ml_collections.ConfigDict,
                   variant: str = "favae") -> ml_collections.ConfigDict:
    """Add Meta-FAVAE (`generator.*` with name `meta_favae`, `meta_favae.*`, `gen_eval.*`)
    with Algorithm 1's defaults (n_VAE 5, n_D 1, n_G 5, g 4, K 10, beta 10, inner Adam
    1e-4 / 1e-3, outer Adam 1e-5 / 1e-4, lambda_ms 1 = generator.mode_seeking_weight;
    fewgen_tf/methods/meta_favae/model.py). `generator.latent_dim` is the code c's size.
    `variant`: favae (with feedback) | avae (without: Meta-AVAE) | figr (Reptile on the
    plain GAN G, D: no VAE, no feedback, no mode seeking)."""
    if variant not in META_FAVAE_VARIANTS:
        raise ValueError(f"unknown Meta-FAVAE variant {variant!r}; valid: "
                         f"{', '.join(META_FAVAE_VARIANTS)}")
    add_generator(config, "meta_favae")
    config.generator.latent_dim = 64          # c (the code); noise z: meta_favae.noise_dim
    config.generator.iterations = 100000      # meta-iterations (the paper's n_iter)
    config.generator.mode_seeking_weight = 0.0 if variant == "figr" else 1.0
    if "gen_eval" not in config:
        add_generation_eval(config)
    m = config.meta_favae = ml_collections.ConfigDict()
    m.variant = variant
    m.vae = variant != "figr"                 # False: FIGR
    m.feedback = variant == "favae"           # False: Meta-AVAE (the paper's ablation)
    m.noise_dim = 64                          # z
    m.width = 1.0                             # layer-width multiplier (1: ~8.0M at 64x64)
    m.task_size = 4                           # g: images a task (and seeds generate needs)
    m.rounds = 10                             # K
    m.vae_steps = 5                           # n_VAE
    m.d_steps = 1                             # n_D
    m.g_steps = 5                             # n_G
    m.inner_vae_lr = 1e-4                     # alpha_1,enc = alpha_1,dec
    m.inner_gan_lr = 1e-3                     # alpha_1,disc = alpha_1,gen
    m.inner_beta_1 = 0.5                      # inner Adam betas (FAML's)
    m.inner_beta_2 = 0.999
    m.outer_vae_lr = 1e-5                     # alpha_2,enc = alpha_2,dec
    m.outer_gan_lr = 1e-4                     # alpha_2,disc = alpha_2,gen
    m.beta = 10.0                             # Eq. 1
    m.gan_loss = "standard"                   # standard (Eq. 2-5) | relativistic
    m.feedback_generations = 4                # n: n^2 blends
    m.feedback_range = (0.1, 0.9)             # blend coefficients
    m.code_source = "prior"                   # generate's c: prior (Algorithm 2) | encoder
    m.train_split = "train"                   # classes of the training tasks
    m.steps_per_epoch = 500                   # meta-iterations per checkpoint / grid
    m.grid_split = "val"                      # fixed classes of samples/meta_favae_epochN.png
    m.grid_classes = 4                        # rows (0: no grid)
    m.grid_images = 8                         # generations a row
    m.evaluate = True                         # run the generation protocol (gen_eval.*)
    return config
