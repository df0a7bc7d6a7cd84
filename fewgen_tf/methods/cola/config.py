"""COLA's config vocabulary: `cola.*` (COLA / GLO / sCOLA) and `small_sample.*` (the
small-sample classification of section 6) on top of `generator.*`, `augment.*` and
`gen_eval.*`, and their checks (`check_cola` for the generator's keys,
`check_cola_pipeline` / `check_small_sample` for the pipelines'), run by
`pipelines.check_config` before anything trains: COLA trains in stages (step I can take
hours), so a bad step-II key must not wait for step II to be built."""

import math

import ml_collections

from fewgen_tf import config as config_lib
from fewgen_tf.config import add_augmentation, add_generation_eval, add_generator
from fewgen_tf.data import split_sizes
from fewgen_tf.errors import ConfigError


COLA_VARIANTS = ("cola", "glo", "scola")
CLASS_CODES = ("clusters", "random")                  # COLA | GLO
ARCHITECTURES = ("infogan", "residual")               # the generator (model.py)
RECONSTRUCTION_LOSSES = ("laplacian", "perceptual", "l1")  # losses.py
REFINE_METHODS = ("kmeans", "balanced")  # MMDC's k-means | exactly balanced cluster sizes
ASSIGNMENT_LOSSES = ("mean", "sum")  # step I's squared error: over K averaged | summed (Eq. 1)


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
    config.cola.num_clusters = num_clusters   # K (sCOLA: the number of classes); 0: one
                                              # per class of cola.train_split (the paper's
                                              # rule; Omniglot's lasium / lake splits)
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
    config.cola.rotnet = True                 # alternate RotNet epochs (False: every epoch
                                              # an assignment epoch)
    config.cola.refine_epoch = 0              # MMDC's k-means refinement from this epoch
                                              # on (0: never, the COLA paper)
    config.cola.refine_method = "kmeans"      # kmeans (MMDC) | balanced (exact cluster sizes)
    config.cola.assignment_loss = "mean"      # |E1(x) - t|^2 averaged over the K coordinates
                                              # (MMDC's nn.MSELoss) | sum (Eq. 1: K-free)
    # outputs
    config.cola.sample_images = 10            # samples per cluster in samples/clusters.png
    config.cola.eval_images_per_class = 100   # generated per class for CAS / Frechet
    return config


def use_balanced_clustering(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Step I as configs/cola_mnist.py:cola_2h found it (issue 25; 0.97 on MNIST, 0.26-0.29
    on Omniglot's characters at K = their count): the 16-32-64 x 1 encoder, assignment
    epochs only (no RotNet), 60 epochs with the balanced refinement (exact cluster sizes)
    from epoch 21, Eq. 1's summed squared error at lr 0.005 and weight decay 5e-3; and 30
    step-II epochs. The one home of that recipe (configs/cola_omniglot.py:k1200_balanced,
    configs/lasium_omniglot.py:best)."""
    c = config.cola
    c.encoder_widths = (16, 32, 64)
    c.encoder_blocks = (1, 1, 1)
    c.rotnet = False
    c.cluster_epochs = 60
    c.refine_epoch = 20
    c.refine_method = "balanced"
    c.assignment_loss = "sum"  # Eq. 1; with "mean" (1/K) nothing was learned at K = 1200
    c.cluster_lr = 0.005       # = lr 0.05, wd 5e-4 with "mean" at K = 10
    c.weight_decay = 5e-3
    config.generator.epochs = 30
    return config


def _cluster_count(key, value):
    """Rule of `cola.num_clusters`: K >= 2, or 0 (one per training class, resolved by
    `complete_cola` when a run starts)."""
    config_lib.integer(0, note="or 0: one per training class")(key, value)
    if value == 1:
        raise ConfigError(f"{key} must be an int >= 2 (or 0: one per training class), got 1")


COLA_RULES = {
    "cola.class_codes": config_lib.one_of(CLASS_CODES),
    "cola.num_clusters": _cluster_count,
    "cola.steps_per_epoch": config_lib.integer(0, note="0: one pass"),
    "cola.train_split": config_lib.one_of(config_lib.SPLITS),
    "cola.code_lr": config_lib.POSITIVE,
    "cola.code_sigma": config_lib.POSITIVE,
    "cola.architecture": config_lib.one_of(ARCHITECTURES),
    "cola.conditional_bn": config_lib.boolean(),
    "cola.width": config_lib.POSITIVE,
    "cola.loss": config_lib.one_of(RECONSTRUCTION_LOSSES),
    "cola.lap_gamma": config_lib.number(0),
    "cola.lap_bands": config_lib.integer(0),
    "cola.covariance_reg": config_lib.number(0),
    "cola.em_iterations": config_lib.integer(1),
    "cola.mixture_rank": config_lib.integer(0, note="0: full covariances"),
    "cola.target_variance": config_lib.number(0),
    "cola.cluster_epochs": config_lib.integer(0),
    "cola.cluster_batch_size": config_lib.integer(1),
    "cola.cluster_lr": config_lib.POSITIVE,
    "cola.cluster_momentum": config_lib.number(0, 1, high_open=True),
    "cola.weight_decay": config_lib.number(0),
    "cola.views": config_lib.integer(1),
    "cola.flip": config_lib.boolean(),
    "cola.rotnet": config_lib.boolean(),
    "cola.refine_epoch": config_lib.integer(0, note="0: no refinement"),
    "cola.refine_method": config_lib.one_of(REFINE_METHODS),
    "cola.assignment_loss": config_lib.one_of(ASSIGNMENT_LOSSES),
    "cola.sample_images": config_lib.integer(0),
    "cola.eval_images_per_class": config_lib.integer(1),
}


def check_cola_value(key, value):
    """`value` of the `cola.*` key `key`, checked by its rule (for the modules that take it
    as an argument)."""
    COLA_RULES[key](key, value)
    return value


def check_generator_options(architecture, conditional_bn) -> None:
    check_cola_value("cola.architecture", architecture)
    if conditional_bn and architecture != "residual":
        raise ConfigError("cola.conditional_bn needs cola.architecture = residual")


def check_encoder(widths, blocks) -> None:
    """Step I's ResNet: `cola.encoder_widths` and `cola.encoder_blocks`."""
    try:
        widths, blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
    except (TypeError, ValueError):
        widths, blocks = (), ()
    if not widths or len(widths) != len(blocks) or min(widths + blocks) < 1:
        raise ConfigError(f"cola.encoder_widths {widths} and cola.encoder_blocks {blocks} "
                          "must be equally long lists of positive ints")


def check_lap_bands(bands, side) -> None:
    """`cola.lap_bands` halvings must leave `side`-pixel images at least 2 pixels wide."""
    check_cola_value("cola.lap_bands", bands)
    if math.ceil(side / 2 ** bands) < 2:
        raise ConfigError(f"a {bands}-band Laplacian pyramid halves {side}-pixel images "
                          f"below 2 pixels: lower cola.lap_bands")


def check_loss(kind, perceptual_model) -> None:
    check_cola_value("cola.loss", kind)
    if kind == "perceptual" and not perceptual_model:
        raise ConfigError("cola.loss = perceptual needs cola.perceptual_model (a VGG "
                          ".keras file or SavedModel directory that you supply)")


def training_class_count(config):
    """K for `cola.num_clusters = 0`: the number of classes of the split part COLA trains
    on (`cola.train_split`; the COLA paper sets K to the number of classes), for the
    splits whose class counts are fixed in advance (data/split_sizes.py). Only the COUNT
    is read, never a label. ConfigError elsewhere."""
    _, name = config_lib.lookup(config, "data.name")
    _, split = config_lib.lookup(config, "data.split")
    part = config.cola.get("train_split", "train")
    count = split_sizes.omniglot_class_count(split, part) if name == "omniglot" else None
    if count is None:
        raise ConfigError(f"cola.num_clusters = 0 (one cluster per training class) is known "
                          f"for Omniglot's lasium and lake splits only, not data.name "
                          f"{name!r} / data.split {split!r}: set cola.num_clusters")
    return count


def complete_cola(config) -> None:
    """Replace `cola.num_clusters = 0` by the training split's class count
    (`training_class_count`), before the run's checks and before config.json is written,
    so the workdir records (and a resume compares) the K actually used."""
    if "cola" in config and config.cola.get("num_clusters") == 0:
        config.cola.num_clusters = training_class_count(config)


def check_cola(config) -> None:
    """`cola.*` of the COLA generator, wherever it is used (its pipelines, LASIUM's
    clusters). (The per-cluster covariance store's size: model.py, when it is built.)"""
    if "cola" not in config:
        return
    config_lib.check_rules(config, COLA_RULES)
    c = config.cola
    if c.num_clusters == 0:
        training_class_count(config)  # (resolved by complete_cola when the run starts)
    check_generator_options(c.get("architecture", "infogan"), c.get("conditional_bn", False))
    check_loss(c.get("loss", "laplacian"), c.get("perceptual_model", ""))
    found, size = config_lib.lookup(config, "data.image_size")
    if c.get("loss", "laplacian") == "laplacian" and found and "lap_bands" in c:
        check_lap_bands(c.lap_bands, size)
    if c.get("class_codes") == "clusters":
        check_encoder(c.get("encoder_widths", (64,)), c.get("encoder_blocks", (2,)))


def check_cola_pipeline(config) -> None:
    """The pipelines cola, scola and small_sample: they train generator.name 'cola', on
    one device."""
    check_cola(config)
    if config.generator.name != "cola":
        raise ConfigError(f"the COLA pipelines train generator.name 'cola', got "
                          f"{config.generator.name!r}")
    if config.get("distribute", "default") not in ("auto", "default"):
        # (they build their models outside any strategy: without this check a mirrored
        # run would silently train on one device)
        raise ConfigError(
            f"the COLA pipelines (cola, scola, small_sample) train on one device: step "
            f"I's assignment and step II's per-image codes are rows updated in place by "
            f"each batch, which replicas would race on; distribute must be auto or "
            f"default, got {config.distribute!r}")


# Appendix B.3's classifier recipe: the one home of its defaults (the config below and
# small_sample.py's keyword defaults both read these).
SMALL_SAMPLE_MODES = ("real", "synthetic", "mix")
SMALL_SAMPLE_AUGMENTATIONS = ("auto", "flip_crop", "affine", "none")
SMALL_SAMPLE_BACKBONES = (("resnet20", "resnet32", "resnet44", "resnet56")  # nets/resnet.py
                          + config_lib.META_BACKBONES)
SMALL_SAMPLE_RECIPE = dict(backbone="resnet20", filters=16, batch_size=128, learning_rate=0.1,
                           momentum=0.9, lr_halvings=5, weight_decay=5e-4,
                           augmentation="auto", calibration_size=1024)


def add_small_sample(config: ml_collections.ConfigDict,
                     spc=(5, 10, 20, 50, 100)) -> ml_collections.ConfigDict:
    """Add COLA section 6's small-sample classification (pipeline `small_sample`,
    `small_sample.*`) on top of sCOLA (`add_cola(..., "scola")`: `generator.*` and
    `cola.*` train the generator of every draw). The classifier is appendix B.3's:
    ResNet-20, SGD 0.1 with momentum 0.9 halved 5 times at equal intervals, wd 5e-4,
    batch 128, flip+crop (RGB) or small affine (one channel) augmentation
    (fewgen_tf/methods/cola/small_sample.py)."""
    if "cola" not in config:
        add_cola(config, "scola")
    config.pipeline = "small_sample"
    s = config.small_sample = ml_collections.ConfigDict()
    s.spc = tuple(spc)                   # labelled images per class, one run per size
    s.draws = 3                          # random draws per size (draw d: fixed seed)
    s.seed = 0                           # the draws' seed (sCOLA and classifiers: seed + d)
    s.synthetic_per_class = 500          # sCOLA images per class for synthetic / mix
    s.modes = SMALL_SAMPLE_MODES
    r = SMALL_SAMPLE_RECIPE
    s.backbone = r["backbone"]           # resnet20|32|44|56, or strided4 (cheap, CPU budgets)
    s.filters = r["filters"]             # ResNet's first-stage width (strided4: every layer)
    s.classifier_steps = 2000            # the same for every mode and spc
    s.batch_size = r["batch_size"]
    s.learning_rate = r["learning_rate"]  # SGD, halved lr_halvings times at equal intervals
    s.lr_halvings = r["lr_halvings"]
    s.weight_decay = r["weight_decay"]
    s.augmentation = r["augmentation"]   # auto (flip_crop RGB / affine grey) | flip_crop |
                                         # affine | none
    s.calibration_size = r["calibration_size"]  # precise BN on this many images (0: off)
    s.test_subset = "test"               # data.subset of the real test images ("": the
                                         # training split's own images)
    s.grid_images = 8                    # samples/spc*_real_vs_synthetic.png per class
    # Appendix B.3 trains "with the same batch size, number of epochs, iterations per epoch
    # and learning schedule" on every data size: sCOLA's epoch is a fixed number of
    # iterations here too (one pass over 50 images would be ONE step: 200 epochs = 200
    # steps left the generator making dim blurs, 2026-11-24).
    config.cola.steps_per_epoch = 10
    return config


SMALL_SAMPLE_RULES = {
    "small_sample.draws": config_lib.integer(1),
    "small_sample.seed": config_lib.integer(),
    "small_sample.backbone": config_lib.one_of(SMALL_SAMPLE_BACKBONES),
    "small_sample.filters": config_lib.integer(1),
    "small_sample.classifier_steps": config_lib.integer(1),
    "small_sample.batch_size": config_lib.integer(1),
    "small_sample.learning_rate": config_lib.POSITIVE,
    "small_sample.lr_halvings": config_lib.integer(0),
    "small_sample.weight_decay": config_lib.number(0),
    "small_sample.augmentation": config_lib.one_of(SMALL_SAMPLE_AUGMENTATIONS),
    "small_sample.calibration_size": config_lib.integer(0),
    "small_sample.grid_images": config_lib.integer(0),
}


def check_small_sample(config) -> None:
    """The pipeline small_sample: the COLA pipelines' checks and `small_sample.*`."""
    check_cola_pipeline(config)
    config_lib.check_rules(config, SMALL_SAMPLE_RULES)
    s = config.small_sample
    spc = tuple(s.spc) if isinstance(s.spc, (tuple, list)) else (s.spc,)
    if not spc or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in spc):
        raise ConfigError(f"small_sample.spc must be a tuple of positive integers, got {s.spc!r}")
    modes = tuple(s.modes)
    unknown = [m for m in modes if m not in SMALL_SAMPLE_MODES]
    if not modes or unknown:
        raise ConfigError(f"small_sample.modes {modes!r}: valid modes are "
                          f"{', '.join(SMALL_SAMPLE_MODES)}")
    if set(modes) & {"synthetic", "mix"}:
        config_lib.integer(1)("small_sample.synthetic_per_class (synthetic / mix modes)",
                              s.synthetic_per_class)
