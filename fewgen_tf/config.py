"""The config vocabulary every pipeline shares; experiment configs start from it.

`configs/*.py` call `base_config()` and change what their experiment needs; a method's
own vocabulary (`lasium.*`, `augintae.*`, `cola.*`, `meta_favae.*`, ...) lives in its
folder, `fewgen_tf/methods/<method>/config.py`. Every key is declared once, as a
`settings.Setting` (default, rule, doc) in a `settings.Vocabulary`; the `add_*`
functions create the keys from those declarations, so a command-line override of a
misspelt key fails with ml_collections' "did you mean" suggestion, and
docs/config.md is generated from them.

What spans several keys is a `check_*` function beside its vocabulary;
`fewgen_tf.pipelines.check_config` runs every check that applies to a run once, before
anything is read, trained or written. Every failure is one ConfigError naming the key,
the bad value and what is valid. Nothing here imports TensorFlow.
"""

import math
import numbers
import os

import ml_collections

from fewgen_tf.errors import ConfigError
from fewgen_tf.settings import (POSITIVE, Setting, Vocabulary, boolean, checked_by, integer,
                                number, one_of, text)


DATASET_SPLITS = {  # data.name -> the data.split schemes that apply to it (data/registry.py)
    "omniglot": ("lasium", "lake", "random", "all"),
    "mnist": ("all", "random"),
    "folder": ("random", "all"),
    "synthetic": ("random", "all"),
    "cifar10": ("all", "random"),
    "cifar100": ("all", "random"),
}
SPLITS = ("train", "val", "test")  # the class splits every data.split scheme gives
DISTRIBUTE_STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


BASE = Vocabulary("base", "What every run has: its pipeline and seed, the data and its "
                  "class split, the few-shot evaluation, devices and export (`base_config`).", [
    Setting("pipeline", "preview", text("a name of fewgen_tf/pipelines' PIPELINES"),
            "what the run does: preview | supervised | lasium | augintae | cola | scola | "
            "small_sample | meta_favae"),
    Setting("seed", 0, integer(), "every random draw of a run (training episodes, "
            "initialisation) derives from it"),
    Setting("data.name", "synthetic", one_of(sorted(DATASET_SPLITS)), "the dataset"),
    Setting("data.root", lambda: os.environ.get("FEWGEN_DATA_DIR", ""),
            text("a directory; the loader says what it lacks"),
            "where the dataset's files are", default_text="`$FEWGEN_DATA_DIR` or `''`"),
    Setting("data.split", "random", text("judged against data.name"),
            "class split scheme: lasium | lake (Omniglot), random, all"),
    Setting("data.image_size", 28, integer(1), "images are resized to this square side"),
    Setting("data.split_sizes", (0.6, 0.2, 0.2),
            checked_by(lambda key, value: check_split_sizes(value),
                       "three class counts, or three fractions summing to 1"),
            "data.split = random: the train / val / test class counts or fractions"),
    Setting("data.split_seed", 0, integer(), "data.split = random: which classes go where"),
    Setting("data.format", "auto", text("omniglot: auto | npz | official, judged by the loader"),
            "omniglot: the npz files or the official zips / folders"),
    Setting("data.subset", "test", text("mnist, cifar*: train | test, judged by the loader"),
            "mnist, cifar10, cifar100: which official subset"),
    Setting("data.channels", 3, integer(note="1 or 3, judged by the loader"),
            "folder, cifar*: 1 (grayscale) or 3 (RGB)"),
    Setting("data.center_crop", True, boolean(),
            "folder: crop the centred square before resizing"),
    Setting("data.num_classes", 100, integer(note=">= 1, judged by the loader"),
            "synthetic: the number of glyph classes"),
    Setting("data.images_per_class", 20, integer(note=">= 1, judged by the loader"),
            "synthetic: images a class"),
    Setting("data.synthetic_seed", 0, integer(), "synthetic: the glyphs themselves"),
    Setting("eval.num_tasks", 1000, integer(1), "few-shot test tasks (accuracy +- CI95)"),
    Setting("eval.ways", 5, integer(1), "classes a test task"),
    Setting("eval.shots", 1, integer(1), "labelled images a class of a test task"),
    Setting("eval.queries", 15, integer(1), "query images a class of a test task"),
    Setting("eval.seed", 42, integer(), "test tasks depend only on this and the split"),
    Setting("distribute", "auto", one_of(DISTRIBUTE_STRATEGIES),
            "tf.distribute strategy (auto: a TPU, else the GPUs, else the CPU)"),
    Setting("cpu_devices", 0, integer(0, note="0 or 1: the CPU as one device"),
            ">1: split the CPU into logical devices (mirrored without GPUs, e.g. to test "
            "a distributed config)"),
    # intra_op_threads=1 runs each small op on one thread and lets inter-op parallelism
    # overlap the many small ops of meta-learning (1.2-1.4x faster MAML on 2 cores) but
    # slows large convolutions (GAN steps ~1.5x): benchmarks/RESULTS.md.
    Setting("intra_op_threads", 0, integer(0, note="0: TensorFlow's default"),
            "TensorFlow's intra-op thread pool (0: one thread per core)"),
    Setting("inter_op_threads", 0, integer(0, note="0: TensorFlow's default"),
            "TensorFlow's inter-op thread pool (0: one thread per core)"),
    Setting("export.enabled", True, boolean(), "write SavedModels for TF Serving"),
    Setting("export.version", 1, integer(0), "export/NAME/VERSION/"),
])


def base_config() -> ml_collections.ConfigDict:
    return BASE.add_to(ml_collections.ConfigDict())


def check_split_sizes(sizes):
    """(sizes, whether they are class counts) for `data.split_sizes`: three
    non-negative numbers, either class counts or fractions summing to 1."""
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = (sizes,)
    if len(sizes) != 3 or any(not isinstance(s, numbers.Real) or isinstance(s, bool)
                              or not math.isfinite(s) or s < 0 for s in sizes):
        raise ConfigError(f"data.split_sizes must be three non-negative numbers "
                          f"(train, val, test), got {sizes}")
    if all(float(s).is_integer() and s >= 1 for s in sizes if s) and sum(sizes) > 1:
        return sizes, True
    if abs(sum(sizes) - 1.0) < 1e-6:
        return sizes, False
    raise ConfigError(f"data.split_sizes {sizes} must be class counts or fractions summing to 1")


def check_base(config) -> None:
    """`base_config`'s keys: the run, the data and its split, evaluation, devices, export."""
    BASE.check(config)
    check_data(config.data)


def check_data(data) -> None:
    """`data.*`: each key's rule, and a split scheme that applies to the dataset (also
    what `data.registry.load_splits` checks of the section it is given)."""
    for key, setting in BASE.settings.items():
        if key.startswith("data.") and key[5:] in data:
            setting.rule(key, data[key[5:]])
    valid = DATASET_SPLITS[data["name"]]
    if data["split"] not in valid:
        raise ConfigError(f"data.split {data['split']!r} does not apply to "
                          f"{data['name']}; valid: {', '.join(valid)}")


META_ALGORITHMS = ("maml", "fomaml", "protonets", "reptile", "scratch")
META_BACKBONES = ("conv4", "conv4_ceil", "strided4")  # fewgen_tf/nets/backbones.py
META_INITS = ("torch", "keras")           # fewgen_tf/nets/layers.py
META_HEAD_INITS = ("auto", "learned", "prototypes", "zero")  # fewgen_tf/meta/heads.py
ADAPTING_ALGORITHMS = ("maml", "fomaml", "reptile", "scratch")  # a Dense head, adapted per task
CONV4_MIN_IMAGE_SIZE = 16                 # conv4 halves the image 4 times (2x2 max-pools)
MAX_TRANSDUCTIVE_STEPS = 100

META_LEARNING = Vocabulary(
    "meta-learning", "The meta-learner, its training episodes and its test-time procedure "
    "(`add_meta_learning`); defaults are LASIUM's Omniglot hyperparameters.", [
        Setting("meta.algorithm", "protonets", one_of(META_ALGORITHMS),
                "the meta-learner (fewgen_tf/meta/)"),
        Setting("meta.iterations", 1000, integer(0), "outer (meta) steps"),
        Setting("meta.meta_batch_size", 4, integer(1), "episodes per outer step"),
        Setting("meta.inner_lr", 0.4, POSITIVE, "MAML / Reptile inner SGD step size"),
        Setting("meta.inner_steps", 5, integer(0), "inner steps during meta-training"),
        Setting("meta.meta_lr", 1e-3, POSITIVE, "Adam learning rate of the outer update"),
        Setting("meta.meta_step_size", 1.0, POSITIVE,
                "Reptile: theta += step * mean(phi - theta)"),
        Setting("meta.scratch_lr", 0.1, POSITIVE, "from-scratch baseline: SGD step size"),
        Setting("meta.scratch_steps", 100, integer(0),
                "from-scratch baseline: steps per test task"),
        Setting("meta.backbone", "conv4", one_of(META_BACKBONES),
                "conv4 (max-pool) | conv4_ceil (ceil-mode max-pool: 256 features at 28x28) | "
                "strided4 (the LASIUM authors')"),
        Setting("meta.filters", 64, integer(1), "backbone width"),
        Setting("meta.init", "torch", one_of(META_INITS), "the backbone's initialisation"),
        Setting("meta.bn_epsilon", 1e-3, POSITIVE, "the backbone's batch-normalisation epsilon"),
        Setting("meta.jit_compile", False, boolean(),
                "XLA for the train step (measure before enabling)"),
        # head_init leaves training unchanged: it makes the head of an N-way TEST task
        # (evaluation, the exported `classify`) before adapting (fewgen_tf/meta/heads.py).
        Setting("meta.head_init", "auto", one_of(META_HEAD_INITS),
                "MAML / FO-MAML / Reptile / scratch test-task head: learned (the "
                "meta-learned Dense(train.ways)) | prototypes (Proto-MAML: W_k = 2 c_k, "
                "b_k = -|c_k|^2) | zero | auto (learned when N == train.ways, else zero)"),
        # 3 steps were chosen on validation, 10 scored the same; the cap keeps a typo from
        # tracing a graph of a billion steps.
        Setting("meta.transductive_steps", 0, integer(0, MAX_TRANSDUCTIVE_STEPS),
                "ProtoNets, answering a whole task (classify_task, eval.json's "
                "task_accuracy): soft k-means refinements of the prototypes by the task's "
                "unlabelled queries (Ren et al. 2018 eq. 1-2; 0: none)"),
        Setting("train.ways", 5, integer(1), "classes a training task"),
        Setting("train.shots", 1, integer(1), "labelled images a class of a training task"),
        Setting("train.queries", 5, integer(1),
                "K(val): query images a class of a training task"),
        Setting("train.steps_per_epoch", 100, integer(1),
                "logging / checkpoint / validation period"),
        Setting("train.val_tasks", 100, integer(0),
                "validation tasks an epoch (0: no selection)"),
        Setting("eval.inner_steps", 50, integer(0),
                "MAML / Reptile adaptation steps at test time"),
        Setting("eval.untrained_baseline", False, boolean(),
                "also evaluate the network at its initialisation (0 iterations, the same "
                "test-time procedure) on the same test tasks: summary.json"),
        Setting("eval.supervised_baseline", False, boolean(),
                "also meta-train on labelled episodes of the train classes (the upper "
                "bound) and evaluate it on the same test tasks (kept in "
                "baselines/supervised/)"),
    ])


def add_meta_learning(config: ml_collections.ConfigDict,
                      algorithm: str = "protonets") -> ml_collections.ConfigDict:
    """Add the meta-learner vocabulary (`meta.*`, `train.*`, `eval.inner_steps`, the
    baselines) with `algorithm` as meta.algorithm."""
    return META_LEARNING.add_to(config, {"meta.algorithm": algorithm})


def check_meta_learning(config) -> None:
    """`add_meta_learning`'s keys, and what they ask of each other and of the data: the
    meta-learned Dense(train.ways) head (meta.head_init='learned') answers eval.ways
    classes only if they are equal (the other head inits answer any number); conv4 needs
    images of at least 16 pixels (below, its fourth max-pool has nothing to pool)."""
    META_LEARNING.check(config)
    meta, algorithm = config.meta, config.meta.algorithm
    train_ways, eval_ways = config.train.ways, config.eval.ways
    if (algorithm in ("maml", "fomaml", "reptile") and train_ways != eval_ways
            and meta.head_init == "learned"):
        raise ConfigError(f"{algorithm} with meta.head_init 'learned' has a Dense({train_ways}) "
                          f"head from train.ways but eval.ways is {eval_ways}; make them equal "
                          f"or set meta.head_init to auto, prototypes or zero")
    if eval_ways < 2 and config.pipeline != "preview":
        raise ConfigError(f"eval.ways must be >= 2 for a few-shot accuracy (a {eval_ways}-way "
                          f"task is always answered right), got {eval_ways}")
    if config.pipeline == "supervised" and config.eval.supervised_baseline:
        raise ConfigError("eval.supervised_baseline: the supervised pipeline is that baseline "
                          "itself; leave it False (eval.untrained_baseline still applies)")
    if algorithm != "protonets" and meta.transductive_steps:
        raise ConfigError(f"meta.transductive_steps is a test-time option of ProtoNets' "
                          f"prototypes; meta.algorithm is {algorithm!r}: leave it 0")
    size = config.data.image_size
    if meta.backbone == "conv4" and size < CONV4_MIN_IMAGE_SIZE:
        raise ConfigError(f"meta.backbone 'conv4' halves the image 4 times: it needs "
                          f"data.image_size >= {CONV4_MIN_IMAGE_SIZE}, got {size} (or use "
                          f"meta.backbone=strided4)")


GENERATOR = Vocabulary(
    "generator", "The one vocabulary of every generator whatever its paper "
    "(fewgen_tf/generators/registry.py): which model, its latent size, optimiser, batch "
    "and budget, or a trained one to reuse (`add_generator`; defaults are LASIUM's VAE "
    "for Omniglot, the other generators start at latent_dim 128 and lr 3e-4). A "
    "method's own hyperparameters live under its own key.", [
        Setting("generator.name", "vae", text("a name of generators/registry.py's GENERATORS"),
                "the generator: vae | msgan | bigbigan | progan | augintae | cola | "
                "meta_favae"),
        Setting("generator.latent_dim", 20, integer(1), "the latent size"),
        Setting("generator.lr", 1e-3, POSITIVE, "its optimiser's learning rate"),
        Setting("generator.batch_size", 128, integer(1), "images a training step"),
        Setting("generator.epochs", 100, integer(0), "passes over the training images"),
        Setting("generator.iterations", 0, integer(0),
                "meta-trained generators: outer iterations"),
        # Not `generator.from`: ml_collections parses override paths as Python, where
        # `from` is a keyword.
        Setting("generator.from_workdir", "", text("a finished run's workdir"),
                "restore the trained generator of that workdir instead of training one"),
        Setting("generator.path", "", text("a SavedModel directory or hub handle"),
                "pretrained generators: where the model is"),
        Setting("generator.mode_seeking_weight", 1.0, number(0),
                "MSGAN's (and Meta-FAVAE's lambda_ms) mode-seeking term"),
        Setting("generator.mixed_bfloat16", False, boolean(), "MSGAN step in bfloat16"),
        Setting("generator.jit_compile", False, boolean(),
                "XLA for the generator's train step"),
    ])
# (generator.name is checked against the registry by pipelines.check_config, its
# method's keys by the config module its entry names.)


def add_generator(config: ml_collections.ConfigDict,
                  name: str = "vae") -> ml_collections.ConfigDict:
    """Add `generator.*` for the generator `name`."""
    vae = name == "vae"
    return GENERATOR.add_to(config, {"generator.name": name,
                                     "generator.latent_dim": 20 if vae else 128,
                                     "generator.lr": 1e-3 if vae else 3e-4})


AUGMENT_FILLS = {"characters": "white", "natural": "symmetric"}  # augment.kind -> fill
AUGMENT_RANGES = ("rotation", "translation", "scale", "shear", "brightness", "contrast",
                  "saturation", "hue")
AUGMENT_MAGNITUDES = ("rotation", "translation", "shear", "hue")  # m stands for (-m, m)
# name -> (low, high, low included): what a range's values must stay within (high excluded)
_AUGMENT_LIMITS = {"scale": (0.0, None, False), "shear": (-90.0, 90.0, False),
                   "brightness": (0.0, None, True), "contrast": (0.0, None, True),
                   "saturation": (0.0, None, True), "hue": (-0.5, 0.5, True)}


def _augment_rule(name):
    def check(key, value):
        if value is not None:
            augment_value(name, value)
    magnitude = " or a magnitude m >= 0 for (-m, m)" if name in AUGMENT_MAGNITUDES else ""
    return checked_by(check, f"(min, max) with min <= max{magnitude}")


AUGMENTATION = Vocabulary(
    "augmentation", "Ranges of the interpolable augmentation parameters "
    "(fewgen_tf/data/augment.py; `add_augmentation`). Defaults are AugIntAE's for "
    "characters (appendix A.1); `add_augmentation(config, 'natural')` sets the "
    "photographs' ranges: half the rotation and shear, double the translation, colour "
    "jitter.", [
        Setting("augment.kind", "characters",
                checked_by(lambda key, value: augment_fill(value), "characters | natural"),
                "the fill of uncovered pixels: white (characters) | symmetric (natural)"),
        Setting("augment.rotation", 20.0, _augment_rule("rotation"), "+- degrees"),
        Setting("augment.translation", 4.0, _augment_rule("translation"), "+- pixels"),
        Setting("augment.scale", (0.8, 1.2), _augment_rule("scale"), "zoom factor range"),
        Setting("augment.shear", 6.0, _augment_rule("shear"), "+- degrees"),
        Setting("augment.brightness", (1.0, 1.0), _augment_rule("brightness"),
                "brightness factor range"),
        Setting("augment.contrast", (1.0, 1.0), _augment_rule("contrast"),
                "contrast factor range"),
        Setting("augment.saturation", (1.0, 1.0), _augment_rule("saturation"),
                "saturation factor range"),
        Setting("augment.hue", 0.0, _augment_rule("hue"), "+- fraction of the hue circle"),
    ])
NATURAL_AUGMENTATION = {"augment.kind": "natural", "augment.rotation": 10.0,
                        "augment.translation": 8.0, "augment.shear": 3.0,
                        "augment.brightness": (0.75, 1.25), "augment.contrast": (0.75, 1.25),
                        "augment.saturation": (0.75, 1.25), "augment.hue": 0.05}


def add_augmentation(config: ml_collections.ConfigDict,
                     kind: str = "characters") -> ml_collections.ConfigDict:
    """Add `augment.*` with the ranges of `kind`: characters (strokes on white) or
    natural (photographs)."""
    if kind not in ("characters", "natural"):
        raise ValueError(f"unknown augmentation kind {kind!r}; valid: characters, natural")
    return AUGMENTATION.add_to(config, NATURAL_AUGMENTATION if kind == "natural" else {})


def augment_fill(kind):
    """The fill mode of `augment.kind`: characters -> white, natural -> symmetric."""
    if kind not in AUGMENT_FILLS:
        raise ConfigError(f"augment.kind {kind!r} is unknown; valid: {', '.join(AUGMENT_FILLS)}")
    return AUGMENT_FILLS[kind]


def check_augment_fill(fill):
    fills = tuple(AUGMENT_FILLS.values())
    if fill not in fills:
        raise ConfigError(f"augment fill {fill!r} is unknown; valid: {', '.join(fills)}")
    return fill


def augment_range(name, value):
    """The (min, max) pair `value` of augmentation parameter `name` as floats, checked:
    finite, min <= max, within the parameter's limits."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"augment.{name} must be a (min, max) pair of numbers, "
                          f"got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ConfigError(f"augment.{name} range ({lo}, {hi}) is invalid: "
                          "need finite min <= max")
    if name in _AUGMENT_LIMITS:
        low, high, low_inclusive = _AUGMENT_LIMITS[name]
        if lo < low or (lo == low and not low_inclusive) or (high is not None and hi >= high):
            bound = f"{'>=' if low_inclusive else '>'} {low}"
            bound += f" and < {high}" if high is not None else ""
            raise ConfigError(f"augment.{name} range ({lo}, {hi}) is invalid: values "
                              f"must be {bound}")
    return lo, hi


def augment_value(name, value):
    """`augment.NAME` as a checked (min, max) pair: a magnitude m (rotation, translation,
    shear, hue) stands for (-m, m)."""
    if (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and name in AUGMENT_MAGNITUDES):
        if value < 0:
            raise ConfigError(f"augment.{name} is a magnitude (range [-m, m]) and "
                              f"must be >= 0, got {value}")
        value = (-float(value), float(value))
    return augment_range(name, value)


GEN_EVAL_FEATURES = ("evaluation_network", "inception")  # fewgen_tf/metrics/features.py
GENERATION_EVAL = Vocabulary(
    "generation evaluation", "The fixed few-shot generation protocol and its metrics "
    "(fewgen_tf/stages/generation_eval.py, fewgen_tf/metrics/; `add_generation_eval`). "
    "How many images the classes of gen_eval.split hold is checked once the data is "
    "loaded, before training.", [
        Setting("gen_eval.split", "test", one_of(SPLITS),
                "the split whose classes are the novel ones"),
        Setting("gen_eval.num_classes", 20, integer(2),
                "novel classes evaluated, fixed by the seed (CAS classifies them: >= 2)"),
        Setting("gen_eval.seeds_per_class", 5, integer(1),
                "seed images given to the generator"),
        Setting("gen_eval.real_per_class", 10, integer(1),
                "held-out real images of the class"),
        Setting("gen_eval.images_per_class", 32, integer(2),
                "images generated a class (diversity compares them pairwise)"),
        Setting("gen_eval.seed", 42, integer(), "tasks depend only on this and the split"),
        Setting("gen_eval.features", "evaluation_network", one_of(GEN_EVAL_FEATURES),
                "the feature network of the metrics (inception: give inception_path)"),
        Setting("gen_eval.inception_path", "", text("a SavedModel directory or hub handle"),
                "the Inception-v3 of gen_eval.features = inception"),
        Setting("gen_eval.feature_cache",
                lambda: os.path.join(os.path.expanduser("~"), ".cache", "fewgen_tf",
                                     "evaluation_networks"),
                text("a directory"), "where trained evaluation networks are kept",
                default_text="`~/.cache/fewgen_tf/evaluation_networks`"),
        Setting("gen_eval.evaluation_network_steps", 2000, integer(0),
                "training of the evaluation network"),
        Setting("gen_eval.evaluation_network_seed", 0, integer(),
                "the evaluation network's own seed, apart from gen_eval.seed: the yardstick "
                "stays the same"),
        Setting("gen_eval.classifier_steps", 500, integer(0),
                "CAS / Mix / domain-rate classifiers' training steps"),
    ])


def add_generation_eval(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Add `gen_eval.*`."""
    return GENERATION_EVAL.add_to(config)


PREVIEW = Vocabulary("preview", "The pipeline `preview` (`add_preview`).", [
    Setting("preview.num_episodes", 2, integer(1), "episodes drawn a split"),
])


def add_preview(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Add `preview.*`."""
    return PREVIEW.add_to(config)


# --------------------------------------------------------------------- all of it


def check_value(key: str, value):
    """`value` for the shared key `key`, or the ConfigError its rule raises: for modules
    that take a config value as an argument (one rule, wherever it is checked)."""
    next(v for v in VOCABULARIES if key in v.settings).rule(key)(key, value)
    return value


def check_config(config) -> None:
    """Every check of the shared vocabulary that applies to `config` (the sections it
    has); raises ConfigError naming the key, the value and what is valid. The method
    keys are checked by the method's config.py (`fewgen_tf.pipelines.check_config`
    runs both)."""
    check_base(config)
    if "meta" in config:
        check_meta_learning(config)
    if "generator" in config:
        GENERATOR.check(config)
    AUGMENTATION.check(config)
    if "gen_eval" in config:
        GENERATION_EVAL.check(config)
    PREVIEW.check(config)


VOCABULARIES = (BASE, META_LEARNING, GENERATOR, AUGMENTATION, GENERATION_EVAL, PREVIEW)
