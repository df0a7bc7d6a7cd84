"""The config vocabulary every pipeline shares; experiment configs start from it.

`configs/*.py` call `base_config()` and change what their experiment needs. Keys are
created here (with defaults) rather than ad hoc in each file so that a command-line
override of a misspelt key fails with ml_collections' "did you mean" suggestion.
"""

import os

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.pipeline = "preview"
    config.seed = 0  # every random draw of a run (training episodes, init) derives from it

    config.data = ml_collections.ConfigDict()
    config.data.name = "synthetic"       # omniglot | mnist | folder | synthetic | cifar10|100
    config.data.root = os.environ.get("FEWGEN_DATA_DIR", "")
    config.data.split = "random"         # lasium | lake (Omniglot), random, all
    config.data.image_size = 28
    config.data.split_sizes = (0.6, 0.2, 0.2)  # for split=random: fractions or class counts
    config.data.split_seed = 0
    config.data.format = "auto"          # omniglot: auto | npz | official (zips or folders)
    config.data.subset = "test"          # mnist, cifar10, cifar100: train | test
    config.data.channels = 3             # folder, cifar*: 1 (grayscale) or 3 (RGB)
    config.data.center_crop = True       # folder: crop the centred square before resizing
    config.data.num_classes = 100        # synthetic
    config.data.images_per_class = 20    # synthetic
    config.data.synthetic_seed = 0       # synthetic: the glyphs themselves

    config.eval = ml_collections.ConfigDict()
    config.eval.num_tasks = 1000
    config.eval.ways = 5
    config.eval.shots = 1
    config.eval.queries = 15
    config.eval.seed = 42                # evaluation episodes depend only on this and the split

    config.distribute = "auto"           # auto | default | mirrored | multi_worker | tpu
    config.cpu_devices = 0               # >1: split the CPU into logical devices (mirrored
                                         # without GPUs, e.g. to test a distributed config)
    # TensorFlow's thread pools (0: TensorFlow's default, one thread per core each).
    # intra_op_threads=1 runs each small op on one thread and lets inter-op parallelism
    # overlap the many small, independent ops of meta-learning (1.2-1.4x faster MAML on
    # 2 cores, benchmarks/RESULTS.md) but slows large convolutions (GAN steps ~1.5x).
    config.intra_op_threads = 0
    config.inter_op_threads = 0
    config.export = ml_collections.ConfigDict()
    config.export.enabled = True
    config.export.version = 1
    return config


def add_meta_learning(config: ml_collections.ConfigDict,
                      algorithm: str = "protonets") -> ml_collections.ConfigDict:
    """Add the meta-learner vocabulary (`meta.*`, `train.*`, `eval.inner_steps`) with
    the LASIUM reference hyperparameters for Omniglot (REFERENCE_NOTES.md)."""
    config.meta = ml_collections.ConfigDict()
    config.meta.algorithm = algorithm    # maml | fomaml | protonets | reptile | scratch
    config.meta.iterations = 1000        # outer (meta) steps
    config.meta.meta_batch_size = 4      # episodes per outer step
    config.meta.inner_lr = 0.4           # MAML / Reptile inner SGD step size
    config.meta.inner_steps = 5          # inner steps during meta-training
    config.meta.meta_lr = 1e-3           # Adam learning rate of the outer update
    config.meta.meta_step_size = 1.0     # Reptile: theta += step * mean(phi - theta)
    config.meta.scratch_lr = 0.1         # from-scratch baseline: SGD step size
    config.meta.scratch_steps = 100      # from-scratch baseline: steps per test task
    config.meta.backbone = "conv4"       # conv4 (max-pool) | strided4 (the LASIUM authors')
    config.meta.filters = 64             # backbone width
    config.meta.init = "torch"           # torch | keras: the backbone's initialisation
    config.meta.bn_epsilon = 1e-3        # the backbone's batch-normalisation epsilon
    config.meta.jit_compile = False      # XLA for the train step (measure before enabling)

    config.train = ml_collections.ConfigDict()
    config.train.ways = 5
    config.train.shots = 1
    config.train.queries = 5             # K(val) of the training tasks
    config.train.steps_per_epoch = 100   # logging / checkpoint / validation period
    config.train.val_tasks = 100         # validation tasks per epoch (0: no selection)

    config.eval.inner_steps = 50         # MAML / Reptile adaptation steps at test time
    return config


def add_generator(config: ml_collections.ConfigDict,
                  name: str = "vae") -> ml_collections.ConfigDict:
    """Add `generator.*`, the one vocabulary of every generator whatever its paper
    (fewgen_tf/generators/registry.py): which model, its latent size, optimiser, batch
    and budget, or a trained one to reuse. Method-only hyperparameters live under the
    method's own key (e.g. `augintae.*`). Defaults are LASIUM's for Omniglot."""
    config.generator = ml_collections.ConfigDict()
    config.generator.name = name            # see generators/registry.py GENERATORS
    config.generator.latent_dim = 20 if name == "vae" else 128
    config.generator.lr = 1e-3 if name == "vae" else 3e-4
    config.generator.batch_size = 128
    config.generator.epochs = 100           # passes over the training images
    config.generator.iterations = 0         # meta-trained generators: outer iterations
    # The workdir of a finished run whose trained generator is restored instead of
    # training one. (Not `generator.from`: ml_collections parses override paths as
    # Python, where `from` is a keyword.)
    config.generator.from_workdir = ""
    config.generator.path = ""              # pretrained: SavedModel dir or hub handle
    config.generator.mode_seeking_weight = 1.0  # MSGAN's mode-seeking term
    config.generator.mixed_bfloat16 = False     # MSGAN step in bfloat16
    config.generator.jit_compile = False        # XLA for the generator's train step
    return config


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


def add_augmentation(config: ml_collections.ConfigDict,
                     kind: str = "characters") -> ml_collections.ConfigDict:
    """Add `augment.*`: ranges of the interpolable augmentation parameters
    (fewgen_tf/data/augment.py). Defaults are AugIntAE's (appendix A.1): `characters`
    for strokes on white, `natural` for photographs (half the rotation and shear,
    double the translation, colour jitter)."""
    natural = kind == "natural"
    if kind not in ("characters", "natural"):
        raise ValueError(f"unknown augmentation kind {kind!r}; valid: characters, natural")
    config.augment = ml_collections.ConfigDict()
    config.augment.kind = kind                       # fill: white (characters) | symmetric
    config.augment.rotation = 10.0 if natural else 20.0      # +- degrees
    config.augment.translation = 8.0 if natural else 4.0     # +- pixels
    config.augment.scale = (0.8, 1.2)
    config.augment.shear = 3.0 if natural else 6.0           # +- degrees
    config.augment.brightness = (0.75, 1.25) if natural else (1.0, 1.0)
    config.augment.contrast = (0.75, 1.25) if natural else (1.0, 1.0)
    config.augment.saturation = (0.75, 1.25) if natural else (1.0, 1.0)
    config.augment.hue = 0.05 if natural else 0.0            # +- fraction of the hue circle
    return config


def add_generation_eval(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Add `gen_eval.*`: the fixed few-shot generation protocol and its metrics
    (fewgen_tf/metrics/generative.py, fewgen_tf/fewshot_generation.py)."""
    config.gen_eval = ml_collections.ConfigDict()
    config.gen_eval.split = "test"            # the split whose classes are the novel ones
    config.gen_eval.num_classes = 20          # novel classes evaluated (fixed by seed)
    config.gen_eval.seeds_per_class = 5       # seed images given to the generator
    config.gen_eval.real_per_class = 10       # held-out real images of the class
    config.gen_eval.images_per_class = 32     # images generated per class
    config.gen_eval.seed = 42                 # tasks depend only on this and the split
    config.gen_eval.features = "evaluation_network"  # | inception (give inception_path)
    config.gen_eval.inception_path = ""       # Inception-v3 SavedModel dir or hub handle
    config.gen_eval.feature_cache = os.path.join(
        os.path.expanduser("~"), ".cache", "fewgen_tf", "evaluation_networks")
    config.gen_eval.evaluation_network_steps = 2000   # training of the evaluation network
    config.gen_eval.evaluation_network_seed = 0       # apart from gen_eval.seed: the
                                                      # yardstick stays the same
    config.gen_eval.classifier_steps = 500    # CAS / Mix / domain-rate classifiers
    return config


AUGINTAE_VARIANTS = ("augintae", "ae", "intae")


def add_augintae(config: ml_collections.ConfigDict,
                 variant: str = "augintae") -> ml_collections.ConfigDict:
    """Add AugIntAE (`generator.*` with name `augintae`, `augintae.*`, `augment.*`,
    `gen_eval.*`) with the paper's character settings (appendix A.1): latent 32 on the
    unit sphere, Adam 1e-3, 100 passes, the InfoGAN networks (`architecture` auto picks
    DCGAN for RGB), an LSGAN discriminator weighted by k * gamma (Eq. 2-6).
    `variant`: augintae | ae | intae (fewgen_tf/generators/augintae.py)."""
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


COLA_VARIANTS = ("cola", "glo", "scola")


def add_cola(config: ml_collections.ConfigDict, variant: str = "cola",
             num_clusters: int = 10) -> ml_collections.ConfigDict:
    """Add COLA / GLO / sCOLA (`generator.*` with name `cola`, `cola.*`, `augment.*`,
    `gen_eval.*`) with the paper's small-sample settings (appendix B): d = 64
    (`generator.latent_dim`), Adam 1e-3 for G and 1e-2 for the codes halved every tenth
    of 500 epochs, the InfoGAN generator, the Laplacian-pyramid loss; step I a ResNet-18
    (`cola.encoder_*`) with SGD 0.05, momentum 0.9, wd 5e-4 halved every quarter of 200
    epochs, batch 128. `variant`: cola | glo (random codes, no step I, an EM mixture) |
    scola (labels as class parts; pipeline `scola`)."""
    if variant not in COLA_VARIANTS:
        raise ValueError(f"unknown COLA variant {variant!r}; valid: {', '.join(COLA_VARIANTS)}")
    add_generator(config, "cola")
    config.pipeline = "scola" if variant == "scola" else "cola"
    config.generator.latent_dim = 64          # d, the variation part; codes are in R^(K+d)
    config.generator.lr = 1e-3                # Adam, G (halved every tenth of training)
    config.generator.batch_size = 128
    config.generator.epochs = 500             # step II epochs (cola.steps_per_epoch)
    if "augment" not in config:
        add_augmentation(config, "characters")
    if "gen_eval" not in config:
        add_generation_eval(config)
    config.cola = ml_collections.ConfigDict()
    config.cola.class_codes = "random" if variant == "glo" else "clusters"  # GLO: random
    config.cola.num_clusters = num_clusters   # K (sCOLA: the number of classes)
    config.cola.steps_per_epoch = 0           # step II iterations an epoch (0: one pass over
                                              # the images; N: the same whatever their number)
    config.cola.train_split = "train"         # the split trained on (labels only score)
    config.cola.eval_subset = ""              # data.subset of the real evaluation images
                                              # ("" = the training split itself)
    # step II (Algorithm 1)
    config.cola.code_lr = 1e-2                # Adam, codes (halved every tenth)
    config.cola.code_sigma = 1.0              # v_i ~ N(0, sigma I_d) before normalising
    config.cola.architecture = "infogan"      # infogan | residual
    config.cola.conditional_bn = False        # residual only: CGAN's conditional BN
    config.cola.width = 1.0                   # generator width multiplier
    config.cola.loss = "laplacian"            # laplacian (Eq. 5) | perceptual (Eq. 4) | l1
    config.cola.lap_gamma = 1.0               # Eq. 5's gamma
    config.cola.lap_bands = 3                 # band levels (+ the low-pass residual)
    config.cola.perceptual_model = ""         # a VGG .keras file / SavedModel dir you supply
    config.cola.perceptual_layers = ("block1_conv2", "block2_conv2", "block3_conv3")
    # step III
    config.cola.covariance_reg = 1e-4         # + reg I on every fitted covariance
    config.cola.em_iterations = 50            # GLO's mixture
    config.cola.mixture_rank = 0              # 0: full covariances (the paper); r > 0: r
                                              # principal directions + isotropic rest per
                                              # cluster (exact for clusters of <= r + 1
                                              # codes; for K in the hundreds or more)
    # step I (Algorithm 2)
    config.cola.encoder_widths = (64, 128, 256, 512)  # ResNet-18 (32x32)
    config.cola.encoder_blocks = (2, 2, 2, 2)
    config.cola.target_variance = 0.05        # sigma of the GMM targets around e_c
    config.cola.cluster_epochs = 200          # alternating assignment / rotation epochs
    config.cola.cluster_batch_size = 128
    config.cola.cluster_lr = 0.05             # SGD, halved every quarter
    config.cola.cluster_momentum = 0.9
    config.cola.weight_decay = 5e-4
    config.cola.views = 1                     # augmented views per image (consistency)
    config.cola.flip = False                  # random horizontal flips (natural images)
    # outputs
    config.cola.sample_images = 10            # samples per cluster in samples/clusters.png
    config.cola.eval_images_per_class = 100   # generated per class for CAS / Frechet
    return config


def add_small_sample(config: ml_collections.ConfigDict,
                     spc=(5, 10, 20, 50, 100)) -> ml_collections.ConfigDict:
    """Add COLA section 6's small-sample classification (pipeline `small_sample`,
    `small_sample.*`) on top of sCOLA (`add_cola(..., "scola")`: `generator.*` and
    `cola.*` train the generator of every draw). The classifier is appendix B.3's:
    ResNet-20, SGD 0.1 with momentum 0.9 halved 5 times at equal intervals, wd 5e-4,
    batch 128, flip+crop (RGB) or small affine (one channel) augmentation
    (fewgen_tf/metrics/small_sample.py)."""
    if "cola" not in config:
        add_cola(config, "scola")
    config.pipeline = "small_sample"
    s = config.small_sample = ml_collections.ConfigDict()
    s.spc = tuple(spc)                   # labelled images per class, one run per size
    s.draws = 3                          # random draws per size (draw d: fixed seed)
    s.seed = 0                           # the draws' seed (sCOLA and classifiers: seed + d)
    s.synthetic_per_class = 500          # sCOLA images per class for synthetic / mix
    s.modes = ("real", "synthetic", "mix")
    s.backbone = "resnet20"              # resnet20|32|44|56, or strided4 (cheap, CPU budgets)
    s.filters = 16                       # ResNet's first-stage width (strided4: every layer)
    s.classifier_steps = 2000            # the same for every mode and spc
    s.batch_size = 128
    s.learning_rate = 0.1                # SGD, halved lr_halvings times at equal intervals
    s.lr_halvings = 5
    s.weight_decay = 5e-4
    s.augmentation = "auto"              # auto (flip_crop RGB / affine grey) | flip_crop |
                                         # affine | none
    s.calibration_size = 1024            # precise BN on this many training images (0: off)
    s.test_subset = "test"               # data.subset of the real test images ("": the
                                         # training split's own images)
    s.grid_images = 8                    # samples/spc*_real_vs_synthetic.png per class
    # Appendix B.3 trains "with the same batch size, number of epochs, iterations per epoch
    # and learning schedule" on every data size: sCOLA's epoch is a fixed number of
    # iterations here too (one pass over 50 images would be ONE step: 200 epochs = 200
    # steps left the generator making dim blurs, 2026-11-24).
    config.cola.steps_per_epoch = 10
    return config


META_FAVAE_VARIANTS = ("favae", "avae", "figr")


def add_meta_favae(config: ml_collections.ConfigDict,
                   variant: str = "favae") -> ml_collections.ConfigDict:
    """Add Meta-FAVAE (`generator.*` with name `meta_favae`, `meta_favae.*`, `gen_eval.*`)
    with Algorithm 1's defaults (n_VAE 5, n_D 1, n_G 5, g 4, K 10, beta 10, inner Adam
    1e-4 / 1e-3, outer Adam 1e-5 / 1e-4, lambda_ms 1 = generator.mode_seeking_weight;
    fewgen_tf/generators/meta_favae.py). `generator.latent_dim` is the code c's size.
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
