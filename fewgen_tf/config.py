"""The config vocabulary every pipeline shares; experiment configs start from it.

`configs/*.py` call `base_config()` and change what their experiment needs; a method's
own vocabulary (`lasium.*`, `augintae.*`, `cola.*`, `meta_favae.*`, ...) lives in its
folder, `fewgen_tf/methods/<method>/config.py`. Keys are
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
