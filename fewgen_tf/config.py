"""The config vocabulary every pipeline shares; experiment configs start from it.

`configs/*.py` call `base_config()` and change what their experiment needs; a method's
own vocabulary (`lasium.*`, `augintae.*`, `cola.*`, `meta_favae.*`, ...) lives in its
folder, `fewgen_tf/methods/<method>/config.py`. Keys are
created here (with defaults) rather than ad hoc in each file so that a command-line
override of a misspelt key fails with ml_collections' "did you mean" suggestion.

Each vocabulary also declares its checks beside its keys: a `*_RULES` table (key -> rule)
for what one value must be, and a `check_*` function for what spans several keys.
`check_config` runs the shared ones; a method's config.py does the same for its keys, and
`fewgen_tf.pipelines.check_config` runs every check that applies to a run before anything
is read, trained or written. Every failure is one ConfigError naming the key, the bad value
and what is valid. Modules that take such a value as an argument (`distribute`,
`meta.factory`, `data.augment`, ...) call the same rule (`check_value`) instead of keeping
a copy. Nothing here imports TensorFlow.
"""

import math
import numbers
import os

import ml_collections

from fewgen_tf.errors import ConfigError


# ------------------------------------------------------------------------------ rules
def _bounds(low, high, low_open=False, high_open=False):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return (" " + " and ".join(parts)) if parts else ""


def _within(value, low, high, low_open, high_open):
    return ((low is None or value > low or (value == low and not low_open))
            and (high is None or value < high or (value == high and not high_open)))


def integer(low=None, high=None, note=""):
    """Rule: an int (not a bool) in [low, high]; `note` says what a special value means."""
    def rule(key, value):
        if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
                or not _within(value, low, high, False, False)):
            raise ConfigError(f"{key} must be an int{_bounds(low, high)}"
                              f"{f' ({note})' if note else ''}, got {value!r}")
    return rule


def number(low=None, high=None, low_open=False, high_open=False):
    """Rule: a finite int or float within the bounds (`*_open`: the bound excluded)."""
    def rule(key, value):
        if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                or not math.isfinite(value)
                or not _within(value, low, high, low_open, high_open)):
            raise ConfigError(f"{key} must be a number{_bounds(low, high, low_open, high_open)}"
                              f", got {value!r}")
    return rule


POSITIVE = number(0, low_open=True)  # learning rates, widths, epsilons


def one_of(valid):
    """Rule: one of the names `valid` (listed in this order in the message)."""
    valid = tuple(valid)

    def rule(key, value):
        if value not in valid:
            raise ConfigError(f"unknown {key} {value!r}; valid: {', '.join(valid)}")
    return rule


def boolean():
    def rule(key, value):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be True or False, got {value!r}")
    return rule


def lookup(config, key):
    """(found, value) of the dotted `key` in `config` (a ConfigDict or dict)."""
    node = config
    for part in key.split("."):
        if not hasattr(node, "keys") or part not in node:
            return False, None
        node = node[part]
    return True, node


def check_rules(config, rules) -> None:
    """Apply every rule of `rules` (key -> rule) to the keys `config` has."""
    for key, rule in rules.items():
        found, value = lookup(config, key)
        if found:
            rule(key, value)


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


BASE_RULES = {
    "seed": integer(),
    "data.name": one_of(sorted(DATASET_SPLITS)),
    "data.image_size": integer(1),
    "data.split_seed": integer(),
    "data.synthetic_seed": integer(),
    "eval.num_tasks": integer(1),
    "eval.ways": integer(1),
    "eval.shots": integer(1),
    "eval.queries": integer(1),
    "eval.seed": integer(),
    "distribute": one_of(DISTRIBUTE_STRATEGIES),
    "cpu_devices": integer(0, note="0 or 1: the CPU as one device"),
    "intra_op_threads": integer(0, note="0: TensorFlow's default"),
    "inter_op_threads": integer(0, note="0: TensorFlow's default"),
    "export.enabled": boolean(),
    "export.version": integer(0),
}
# (data.format, data.subset, data.channels and the synthetic sizes are checked by their
# loader, when the data is read: still before anything trains or is written.)


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
    check_rules(config, BASE_RULES)
    data = config.get("data") or {}
    if "name" in data and "split" in data:
        valid = DATASET_SPLITS[data["name"]]
        if data["split"] not in valid:
            raise ConfigError(f"data.split {data['split']!r} does not apply to "
                              f"{data['name']}; valid: {', '.join(valid)}")
        if data["split"] == "random" and "split_sizes" in data:
            check_split_sizes(data["split_sizes"])


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
    config.meta.lr_halvings = 0          # outer rate halved this often, equal intervals of
                                         # meta.iterations (Snell et al.: every 2000 episodes)
    config.meta.scratch_lr = 0.1         # from-scratch baseline: SGD step size
    config.meta.scratch_steps = 100      # from-scratch baseline: steps per test task
    config.meta.backbone = "conv4"       # conv4 (max-pool) | conv4_ceil (ceil-mode max-pool:
                                         # 256 features at 28x28) | strided4 (LASIUM authors')
    config.meta.filters = 64             # backbone width
    config.meta.init = "torch"           # torch | keras: the backbone's initialisation
    config.meta.bn_epsilon = 1e-3        # the backbone's batch-normalisation epsilon
    config.meta.jit_compile = False      # XLA for the train step (measure before enabling)
    # How MAML / FO-MAML / Reptile / scratch make the head of an N-way TEST task
    # (evaluation, the exported `classify`) before adapting (fewgen_tf/meta/heads.py):
    # learned (the meta-learned Dense(train.ways); N must equal it) | prototypes
    # (Proto-MAML: W_k = 2 c_k, b_k = -|c_k|^2 of the support set's penultimate
    # features) | zero | auto (learned when N == train.ways, else zero).
    # Training is unchanged.
    config.meta.head_init = "auto"
    # ProtoNets at TEST time only: soft k-means refinements of the prototypes by the
    # task's unlabelled queries (fewgen_tf/meta/protonets.py; Ren et al. 2018 eq. 1-2).
    # 0: the inductive classifier. A query's logits then depend on the other queries
    # (as they already do through batch-norm statistics).
    config.meta.transductive_steps = 0
    # ProtoNets at TEST time only: each embedding the mean over the image and its four
    # shifts by this many pixels (0: none; fewgen_tf/data/shift.py).
    config.meta.test_shifts = 0

    config.train = ml_collections.ConfigDict()
    config.train.ways = 5
    config.train.shots = 1
    config.train.queries = 5             # K(val) of the training tasks
    config.train.steps_per_epoch = 100   # logging / checkpoint / validation period
    config.train.val_tasks = 100         # validation tasks per epoch (0: no selection)

    config.eval.inner_steps = 50         # MAML / Reptile adaptation steps at test time
    # Baselines on the SAME test tasks, beside the run's own row in summary.json
    # (stages/meta_learning.py): the network at its initialisation (0 iterations, the
    # same test-time procedure; costs one more evaluation), and the network meta-trained
    # on labelled episodes of the train classes (the upper bound; costs a second
    # meta-training, kept in baselines/supervised/).
    config.eval.untrained_baseline = False
    config.eval.supervised_baseline = False
    return config


META_ALGORITHMS = ("maml", "fomaml", "protonets", "reptile", "scratch")
META_BACKBONES = ("conv4", "conv4_ceil", "strided4")  # fewgen_tf/nets/backbones.py
META_INITS = ("torch", "keras")           # fewgen_tf/nets/layers.py
META_HEAD_INITS = ("auto", "learned", "prototypes", "zero")  # fewgen_tf/meta/heads.py
ADAPTING_ALGORITHMS = ("maml", "fomaml", "reptile", "scratch")  # a Dense head, adapted per task
CONV4_MIN_IMAGE_SIZE = 16                 # conv4 halves the image 4 times (2x2 max-pools)
META_RULES = {
    "meta.algorithm": one_of(META_ALGORITHMS),
    "meta.iterations": integer(0),
    "meta.meta_batch_size": integer(1),
    "meta.inner_lr": POSITIVE,
    "meta.inner_steps": integer(0),
    "meta.meta_lr": POSITIVE,
    "meta.meta_step_size": POSITIVE,
    "meta.lr_halvings": integer(0),
    "meta.scratch_lr": POSITIVE,
    "meta.scratch_steps": integer(0),
    "meta.backbone": one_of(META_BACKBONES),
    "meta.filters": integer(1),
    "meta.init": one_of(META_INITS),
    "meta.bn_epsilon": POSITIVE,
    "meta.jit_compile": boolean(),
    "meta.head_init": one_of(META_HEAD_INITS),
    "meta.transductive_steps": integer(0),
    "meta.test_shifts": integer(0),
    "train.ways": integer(1),
    "train.shots": integer(1),
    "train.queries": integer(1),
    "train.steps_per_epoch": integer(1),
    "train.val_tasks": integer(0),
    "eval.inner_steps": integer(0),
    "eval.untrained_baseline": boolean(),
    "eval.supervised_baseline": boolean(),
}


def check_meta_learning(config) -> None:
    """`add_meta_learning`'s keys, and what they ask of each other and of the data: the
    meta-learned Dense(train.ways) head (meta.head_init='learned') answers eval.ways
    classes only if they are equal (the other head inits answer any number); conv4 needs
    images of at least 16 pixels (below, its fourth max-pool has nothing to pool)."""
    check_rules(config, META_RULES)
    meta = config.get("meta") or {}
    algorithm = meta.get("algorithm")
    train_ways = (config.get("train") or {}).get("ways")
    eval_ways = (config.get("eval") or {}).get("ways")
    if (algorithm in ("maml", "fomaml", "reptile") and train_ways != eval_ways
            and meta.get("head_init", "auto") == "learned"):
        raise ConfigError(f"{algorithm} with meta.head_init 'learned' has a Dense({train_ways}) "
                          f"head from train.ways but eval.ways is {eval_ways}; make them equal "
                          f"or set meta.head_init to auto, prototypes or zero")
    if config.get("pipeline") == "supervised" and (config.get("eval") or {}).get(
            "supervised_baseline"):
        raise ConfigError("eval.supervised_baseline: the supervised pipeline is that baseline "
                          "itself; leave it False (eval.untrained_baseline still applies)")
    if meta and algorithm == "scratch" and meta.get("lr_halvings", 0):
        raise ConfigError("meta.lr_halvings halves the outer (meta) learning rate; the "
                          "scratch baseline has no meta-training: leave it 0")
    for key in ("transductive_steps", "test_shifts"):
        if meta and algorithm != "protonets" and meta.get(key, 0):
            raise ConfigError(f"meta.{key} is a test-time option of ProtoNets' prototypes; "
                              f"meta.algorithm is {algorithm!r}: leave it 0")
    found, size = lookup(config, "data.image_size")
    if meta and meta.get("backbone", "conv4") == "conv4" and found and size < CONV4_MIN_IMAGE_SIZE:
        raise ConfigError(f"meta.backbone 'conv4' halves the image 4 times: it needs "
                          f"data.image_size >= {CONV4_MIN_IMAGE_SIZE}, got {size} (or use "
                          f"meta.backbone=strided4)")


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


# (generator.name is checked against fewgen_tf/generators/registry.py GENERATORS by
# pipelines.check_config, its method's keys by the config module its entry names.)
GENERATOR_RULES = {
    "generator.latent_dim": integer(1),
    "generator.lr": POSITIVE,
    "generator.batch_size": integer(1),
    "generator.epochs": integer(0),
    "generator.iterations": integer(0),
    "generator.mode_seeking_weight": number(0),
    "generator.mixed_bfloat16": boolean(),
    "generator.jit_compile": boolean(),
}


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


AUGMENT_FILLS = {"characters": "white", "natural": "symmetric"}  # augment.kind -> fill
AUGMENT_RANGES = ("rotation", "translation", "scale", "shear", "brightness", "contrast",
                  "saturation", "hue")
AUGMENT_MAGNITUDES = ("rotation", "translation", "shear", "hue")  # m stands for (-m, m)
# name -> (low, high, low included): what a range's values must stay within (high excluded)
_AUGMENT_LIMITS = {"scale": (0.0, None, False), "shear": (-90.0, 90.0, False),
                   "brightness": (0.0, None, True), "contrast": (0.0, None, True),
                   "saturation": (0.0, None, True), "hue": (-0.5, 0.5, True)}


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


def check_augmentation(config) -> None:
    """`add_augmentation`'s keys (the ranges fewgen_tf/data/augment.py samples from)."""
    augment = config.get("augment")
    if augment is None:
        return
    augment_fill(augment.get("kind", "characters"))
    for name in AUGMENT_RANGES:
        if augment.get(name) is not None:
            augment_value(name, augment[name])


def add_generation_eval(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Add `gen_eval.*`: the fixed few-shot generation protocol and its metrics
    (fewgen_tf/stages/generation_eval.py, fewgen_tf/metrics/)."""
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


GEN_EVAL_FEATURES = ("evaluation_network", "inception")  # fewgen_tf/metrics/features.py
GEN_EVAL_RULES = {
    "gen_eval.split": one_of(SPLITS),
    "gen_eval.num_classes": integer(2),        # CAS classifies them: at least 2
    "gen_eval.seeds_per_class": integer(1),
    "gen_eval.real_per_class": integer(1),
    "gen_eval.images_per_class": integer(2),   # diversity compares them pairwise
    "gen_eval.seed": integer(),
    "gen_eval.features": one_of(GEN_EVAL_FEATURES),
    "gen_eval.evaluation_network_steps": integer(0),
    "gen_eval.evaluation_network_seed": integer(),
    "gen_eval.classifier_steps": integer(0),
}
# (how many images the classes of gen_eval.split hold is checked once the data is loaded:
# stages/generation_eval.check_protocol, before training.)


# --------------------------------------------------------------------- all of it
SHARED_RULES = {**BASE_RULES, **META_RULES, **GENERATOR_RULES, **GEN_EVAL_RULES}


def check_value(key: str, value):
    """`value` for the shared key `key`, or the ConfigError its rule raises: for modules
    that take a config value as an argument (one rule, wherever it is checked)."""
    SHARED_RULES[key](key, value)
    return value


def check_config(config) -> None:
    """Every check of the shared vocabulary that applies to `config` (the sections it
    has); raises ConfigError naming the key, the value and what is valid. The method
    keys are checked by the method's config.py (`fewgen_tf.pipelines.check_config`
    runs both)."""
    check_base(config)
    if "meta" in config or "train" in config:
        check_meta_learning(config)
    if "generator" in config:
        check_rules(config, GENERATOR_RULES)
    check_augmentation(config)
    if "gen_eval" in config:
        check_rules(config, GEN_EVAL_RULES)
