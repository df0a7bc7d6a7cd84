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
    config.data.name = "synthetic"       # omniglot | mnist | folder | synthetic
    config.data.root = os.environ.get("FEWGEN_DATA_DIR", "")
    config.data.split = "random"         # lasium | lake (Omniglot), random, all
    config.data.image_size = 28
    config.data.split_sizes = (0.6, 0.2, 0.2)  # for split=random: fractions or class counts
    config.data.split_seed = 0
    config.data.format = "auto"          # omniglot: auto | npz | official (zips or folders)
    config.data.subset = "test"          # mnist: train | test
    config.data.channels = 3             # folder: 1 (grayscale) or 3 (RGB)
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


def add_lasium(config: ml_collections.ConfigDict, generator: str = "vae",
               strategy: str = "n") -> ml_collections.ConfigDict:
    """Add LASIUM's generator and task-sampling vocabulary (`lasium.*`), with the
    paper's Omniglot hyperparameters (REFERENCE_NOTES.md)."""
    config.lasium = ml_collections.ConfigDict()
    config.lasium.generator = generator      # vae | msgan | bigbigan | progan
    config.lasium.generator_path = ""        # pretrained: SavedModel dir or hub handle
    config.lasium.generator_from = ""        # a workdir whose trained vae/msgan is reused
    config.lasium.latent_dim = 20 if generator == "vae" else 128
    config.lasium.generator_epochs = 100
    config.lasium.generator_batch_size = 128
    config.lasium.generator_lr = 1e-3 if generator == "vae" else 3e-4
    config.lasium.mode_seeking_weight = 1.0  # MSGAN
    config.lasium.mixed_bfloat16 = False     # MSGAN step in bfloat16
    config.lasium.jit_compile = False        # XLA for the generator's train step
    config.lasium.strategy = strategy        # n | ro | oc
    config.lasium.variance = 0.5             # n: sigma^2
    config.lasium.alpha = 0.2                # ro / oc: interpolation factor
    config.lasium.epsilon = 0.0              # anchors: min pairwise SQUARED distance
    config.lasium.max_resamples = 1000       # anchors: redraws before a clear error
    config.lasium.translate = 0              # +- pixels of random shift of generated queries
    config.lasium.vae_real_anchors = True    # vae: anchors = encodings of real images
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
    config.lasium.generator_path = generator_path
    config.lasium.latent_dim = latent_dim
    config.lasium.alpha = 0.4
    config.meta.inner_lr = 0.05
    config.meta.filters = 32
    config.meta.iterations = 10000
    config.train.queries = 5
    return config
