"""COLA's config vocabulary: `cola.*` (COLA / GLO / sCOLA) and `small_sample.*` (the
small-sample classification of section 6) on top of `generator.*`, `augment.*` and
`gen_eval.*`, and their checks (`check_cola` for the generator's keys,
`check_cola_pipeline` / `check_small_sample` for the pipelines'), run by
`pipelines.check_config` before anything trains: COLA trains in stages (step I can take
hours), so a bad step-II key must not wait for step II to be built."""

import math

import ml_collections

from fewgen_tf import config as config_lib
from fewgen_tf import settings
from fewgen_tf.config import add_augmentation, add_generation_eval, add_generator
from fewgen_tf.data import split_sizes
from fewgen_tf.errors import ConfigError
from fewgen_tf.settings import Setting, Vocabulary


COLA_VARIANTS = ("cola", "glo", "scola")
CLASS_CODES = ("clusters", "random")                  # COLA | GLO
ARCHITECTURES = ("infogan", "residual")               # the generator (generator_nets.py)
RECONSTRUCTION_LOSSES = ("laplacian", "perceptual", "l1")  # losses.py
REFINE_METHODS = ("kmeans", "balanced")  # MMDC's k-means | exactly balanced cluster sizes
ASSIGNMENT_LOSSES = ("mean", "sum")  # step I's squared error: over K averaged | summed (Eq. 1)


def _cluster_count(key, value):
    """Rule of `cola.num_clusters`: K >= 2, or 0 (one per training class, resolved by
    `complete_cola` when a run starts)."""
    config_lib.integer(0, note="or 0: one per training class")(key, value)
    if value == 1:
        raise ConfigError(f"{key} must be an int >= 2 (or 0: one per training class), got 1")


def _sequence(key, value):
    if not isinstance(value, (tuple, list)):
        raise ConfigError(f"{key} must be a tuple, got {value!r}")


SEQUENCE = settings.checked_by(_sequence, "a tuple")

COLA = Vocabulary(
    "cola", "COLA / GLO / sCOLA (`add_cola`, on top of `generator.*` with name `cola`, "
    "`augment.*` and `gen_eval.*`): the paper's small-sample settings (appendix B): "
    "d = 64 (`generator.latent_dim`), Adam 1e-3 for G and 1e-2 for the codes halved every "
    "tenth of 500 epochs, the InfoGAN generator, the Laplacian-pyramid loss; step I a "
    "ResNet-18 with SGD 0.05, momentum 0.9, wd 5e-4 halved every quarter of 200 epochs, "
    "batch 128.", [
        Setting("cola.class_codes", "clusters", settings.one_of(CLASS_CODES),
                "clusters (COLA: step I's clusters) | random (GLO)"),
        Setting("cola.num_clusters", 10,
                settings.checked_by(_cluster_count, "int >= 2, or 0: one per training class"),
                "K (sCOLA: the number of classes); 0: one per class of cola.train_split "
                "(the paper's rule; Omniglot's lasium / lake splits)"),
        Setting("cola.steps_per_epoch", 0, settings.integer(0, note="0: one pass"),
                "step II iterations an epoch (0: one pass over the images; N: the same "
                "whatever their number)"),
        Setting("cola.train_split", "train", settings.one_of(config_lib.SPLITS),
                "the split trained on (its labels only score)"),
        Setting("cola.eval_subset", "", settings.text("a data.subset, or ''"),
                "data.subset of the real evaluation images ('': the training split itself)"),
        # step II (Algorithm 1)
        Setting("cola.code_lr", 1e-2, settings.POSITIVE, "Adam on the codes (halved every tenth)"),
        Setting("cola.code_sigma", 1.0, settings.POSITIVE,
                "v_i ~ N(0, sigma I_d) before normalising"),
        Setting("cola.architecture", "infogan", settings.one_of(ARCHITECTURES),
                "the generator: infogan | residual"),
        Setting("cola.conditional_bn", False, settings.boolean(),
                "residual only: CGAN's conditional batch normalisation"),
        Setting("cola.width", 1.0, settings.POSITIVE, "generator width multiplier"),
        Setting("cola.loss", "laplacian", settings.one_of(RECONSTRUCTION_LOSSES),
                "laplacian (Eq. 5) | perceptual (Eq. 4) | l1"),
        Setting("cola.lap_gamma", 1.0, settings.number(0), "Eq. 5's gamma"),
        Setting("cola.lap_bands", 3, settings.integer(0),
                "band levels (+ the low-pass residual)"),
        Setting("cola.perceptual_model", "", settings.text("needed by cola.loss = perceptual"),
                "a VGG .keras file or SavedModel directory you supply"),
        Setting("cola.perceptual_layers", ("block1_conv2", "block2_conv2", "block3_conv3"),
                SEQUENCE, "the VGG layers of the perceptual loss"),
        # step III
        Setting("cola.covariance_reg", 1e-4, settings.number(0),
                "+ reg I on every fitted covariance"),
        Setting("cola.em_iterations", 50, settings.integer(1), "GLO's mixture: EM iterations"),
        Setting("cola.mixture_rank", 0, settings.integer(0, note="0: full covariances"),
                "0: full covariances (the paper); r > 0: r principal directions + an "
                "isotropic rest per cluster (exact for clusters of <= r + 1 codes; for K in "
                "the hundreds or more)"),
        # step I (Algorithm 2)
        Setting("cola.encoder_widths", (64, 128, 256, 512), SEQUENCE,
                "step I's ResNet stage widths (ResNet-18 at 32x32; as long as encoder_blocks)"),
        Setting("cola.encoder_blocks", (2, 2, 2, 2), SEQUENCE,
                "step I's ResNet blocks a stage"),
        Setting("cola.target_variance", 0.05, settings.number(0),
                "sigma of the GMM targets around e_c"),
        Setting("cola.cluster_epochs", 200, settings.integer(0),
                "alternating assignment / rotation epochs"),
        Setting("cola.cluster_batch_size", 128, settings.integer(1), "step I batch"),
        Setting("cola.cluster_lr", 0.05, settings.POSITIVE, "step I SGD, halved every quarter"),
        Setting("cola.cluster_momentum", 0.9, settings.number(0, 1, high_open=True),
                "step I SGD momentum"),
        Setting("cola.weight_decay", 5e-4, settings.number(0), "step I weight decay"),
        Setting("cola.views", 1, settings.integer(1),
                "augmented views per image (consistency)"),
        Setting("cola.flip", False, settings.boolean(),
                "random horizontal flips (natural images)"),
        Setting("cola.rotnet", True, settings.boolean(),
                "alternate RotNet epochs (False: every epoch an assignment epoch)"),
        Setting("cola.refine_epoch", 0, settings.integer(0, note="0: no refinement"),
                "MMDC's refinement from this epoch on (0: never, the COLA paper)"),
        Setting("cola.refine_method", "kmeans", settings.one_of(REFINE_METHODS),
                "kmeans (MMDC) | balanced (exact cluster sizes)"),
        Setting("cola.assignment_loss", "mean", settings.one_of(ASSIGNMENT_LOSSES),
                "|E1(x) - t|^2 averaged over the K coordinates (MMDC's MSE) | sum (Eq. 1)"),
        # outputs
        Setting("cola.sample_images", 10, settings.integer(0),
                "samples per cluster in samples/clusters.png"),
        Setting("cola.eval_images_per_class", 100, settings.integer(1),
                "generated per class for CAS / Frechet"),
    ])


def add_cola(config: ml_collections.ConfigDict, variant: str = "cola",
             num_clusters: int = 10) -> ml_collections.ConfigDict:
    """Add COLA / GLO / sCOLA (`generator.*` with name `cola`, `cola.*`, `augment.*`,
    `gen_eval.*`). `variant`: cola | glo (random codes, no step I, an EM mixture) |
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
    return COLA.add_to(config, {"cola.class_codes": "random" if variant == "glo" else "clusters",
                                "cola.num_clusters": num_clusters})


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


def check_cola_value(key, value):
    """`value` of the `cola.*` key `key`, checked by its rule (for the modules that take it
    as an argument)."""
    COLA.rule(key)(key, value)
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
    name, split, part = config.data.name, config.data.split, config.cola.train_split
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
    if "cola" in config and config.cola.num_clusters == 0:
        config.cola.num_clusters = training_class_count(config)


def check_cola(config) -> None:
    """`cola.*` of the COLA generator, wherever it is used (its pipelines, LASIUM's
    clusters). (The per-cluster covariance store's size: model.py, when it is built.)"""
    if "cola" not in config:
        return
    COLA.check(config)
    c = config.cola
    if c.num_clusters == 0:
        training_class_count(config)  # (resolved by complete_cola when the run starts)
    check_generator_options(c.architecture, c.conditional_bn)
    check_loss(c.loss, c.perceptual_model)
    if c.loss == "laplacian":
        check_lap_bands(c.lap_bands, config.data.image_size)
    if c.class_codes == "clusters":
        check_encoder(c.encoder_widths, c.encoder_blocks)


def check_cola_pipeline(config) -> None:
    """The pipelines cola, scola and small_sample: they train generator.name 'cola'."""
    check_cola(config)
    if config.generator.name != "cola":
        raise ConfigError(f"the COLA pipelines train generator.name 'cola', got "
                          f"{config.generator.name!r}")


SMALL_SAMPLE_MODES = ("real", "synthetic", "mix")
SMALL_SAMPLE_AUGMENTATIONS = ("auto", "flip_crop", "affine", "none")
SMALL_SAMPLE_BACKBONES = (("resnet20", "resnet32", "resnet44", "resnet56")  # nets/resnet.py
                          + config_lib.META_BACKBONES)


def _sample_sizes(key, value):
    spc = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not spc or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in spc):
        raise ConfigError(f"small_sample.spc must be a tuple of positive integers, got {value!r}")


def _modes(key, modes):
    modes = tuple(modes)
    unknown = [m for m in modes if m not in SMALL_SAMPLE_MODES]
    if not modes or unknown:
        raise ConfigError(f"small_sample.modes {modes!r}: valid modes are "
                          f"{', '.join(SMALL_SAMPLE_MODES)}")


SMALL_SAMPLE = Vocabulary(
    "small_sample", "COLA section 6's classification from a very small sample (pipeline "
    "`small_sample`, `add_small_sample`, on top of sCOLA's `generator.*` and `cola.*`, which "
    "train the generator of every draw). The classifier is appendix B.3's: ResNet-20, SGD "
    "0.1 with momentum 0.9 halved 5 times at equal intervals, wd 5e-4, batch 128, flip + "
    "crop (RGB) or small affine (one channel) augmentation.", [
        Setting("small_sample.spc", (5, 10, 20, 50, 100),
                settings.checked_by(_sample_sizes, "tuple of ints >= 1"),
                "labelled images per class, one run per size"),
        Setting("small_sample.draws", 3, settings.integer(1),
                "random draws per size (draw d: a fixed seed)"),
        Setting("small_sample.seed", 0, settings.integer(),
                "the draws' seed (sCOLA and classifiers: seed + d)"),
        Setting("small_sample.synthetic_per_class", 500,
                settings.integer(note=">= 1 with the synthetic or mix modes"),
                "sCOLA images per class for the synthetic / mix modes"),
        Setting("small_sample.modes", SMALL_SAMPLE_MODES,
                settings.checked_by(_modes, "tuple of real, synthetic, mix"),
                "what trains the classifier: real | synthetic | mix"),
        Setting("small_sample.backbone", "resnet20", settings.one_of(SMALL_SAMPLE_BACKBONES),
                "resnet20|32|44|56, or strided4 (cheap, CPU budgets)"),
        Setting("small_sample.filters", 16, settings.integer(1),
                "ResNet's first-stage width (strided4: every layer)"),
        Setting("small_sample.classifier_steps", 2000, settings.integer(1),
                "the same for every mode and spc"),
        Setting("small_sample.batch_size", 128, settings.integer(1), "classifier batch"),
        Setting("small_sample.learning_rate", 0.1, settings.POSITIVE,
                "SGD, halved lr_halvings times at equal intervals"),
        Setting("small_sample.lr_halvings", 5, settings.integer(0), "see learning_rate"),
        Setting("small_sample.weight_decay", 5e-4, settings.number(0), "classifier weight decay"),
        Setting("small_sample.augmentation", "auto", settings.one_of(SMALL_SAMPLE_AUGMENTATIONS),
                "auto (flip_crop RGB / affine grey) | flip_crop | affine | none"),
        Setting("small_sample.calibration_size", 1024, settings.integer(0),
                "precise batch-norm statistics on this many images (0: off)"),
        Setting("small_sample.test_subset", "test", settings.text("a data.subset, or ''"),
                "data.subset of the real test images ('': the training split's own images)"),
        Setting("small_sample.grid_images", 8, settings.integer(0),
                "samples/spc*_real_vs_synthetic.png images per class"),
    ])
# Appendix B.3's recipe as section6_classifier.py's keyword defaults read it (its SGD
# momentum is not a setting).
SMALL_SAMPLE_RECIPE = dict(
    {key: SMALL_SAMPLE.settings[f"small_sample.{key}"].default
     for key in ("backbone", "filters", "batch_size", "learning_rate", "lr_halvings",
                 "weight_decay", "augmentation", "calibration_size")}, momentum=0.9)


def add_small_sample(config: ml_collections.ConfigDict,
                     spc=(5, 10, 20, 50, 100)) -> ml_collections.ConfigDict:
    """Add COLA section 6's small-sample classification (pipeline `small_sample`,
    `small_sample.*`) on top of sCOLA (`add_cola(..., "scola")`)."""
    if "cola" not in config:
        add_cola(config, "scola")
    config.pipeline = "small_sample"
    SMALL_SAMPLE.add_to(config, {"small_sample.spc": tuple(spc)})
    # Appendix B.3 trains "with the same batch size, number of epochs, iterations per epoch
    # and learning schedule" on every data size: sCOLA's epoch is a fixed number of
    # iterations here too (one pass over 50 images would be ONE step: 200 epochs = 200
    # steps left the generator making dim blurs).
    config.cola.steps_per_epoch = 10
    return config


def check_small_sample(config) -> None:
    """The pipeline small_sample: the COLA pipelines' checks and `small_sample.*`."""
    check_cola_pipeline(config)
    SMALL_SAMPLE.check(config)
    s = config.small_sample
    if set(s.modes) & {"synthetic", "mix"}:
        config_lib.integer(1)("small_sample.synthetic_per_class (synthetic / mix modes)",
                              s.synthetic_per_class)


VOCABULARIES = (COLA, SMALL_SAMPLE)
