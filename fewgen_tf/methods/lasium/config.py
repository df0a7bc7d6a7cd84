"""LASIUM's config vocabulary: `lasium.*` (task sampling) on top of `generator.*`, and its
checks (`check_lasium`, run by `pipelines.check_config` before anything trains)."""

import ml_collections

from fewgen_tf import settings
from fewgen_tf.config import add_generator, add_meta_learning, base_config
from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import registry as generator_registry
from fewgen_tf.settings import Setting, Vocabulary

LATENT_STRATEGIES = ("n", "ro", "oc")  # in-class latents around anchors
CLUSTER = "cluster"                     # classes = clusters of a class-conditional generator
STRATEGIES = LATENT_STRATEGIES + (CLUSTER,)
CLUSTER_IMAGES = ("generated", "real")
TASK_AUGMENTS = ("none", "characters", "natural")


LASIUM = Vocabulary(
    "lasium", "LASIUM's task sampling in the generator's latent space (`add_lasium`, on "
    "top of `generator.*`); defaults are the paper's Omniglot hyperparameters.", [
        Setting("lasium.strategy", "n", settings.one_of(STRATEGIES),
                "n | ro | oc: in-class latents around anchors; cluster: classes are the "
                "clusters of a class-conditional generator (COLA)"),
        Setting("lasium.variance", 0.5, settings.number(0), "n: sigma^2"),
        Setting("lasium.alpha", 0.2, settings.number(0, 1), "ro / oc: interpolation factor"),
        Setting("lasium.epsilon", 0.0, settings.number(0),
                "anchors: min pairwise SQUARED distance"),
        Setting("lasium.max_resamples", 1000, settings.integer(0),
                "anchors: redraws before a clear error"),
        Setting("lasium.translate", 0, settings.integer(0),
                "+- pixels of random shift of generated queries"),
        Setting("lasium.vae_real_anchors", True, settings.boolean(),
                "vae, augintae: anchors are encodings of real images"),
        Setting("lasium.cluster_images", "generated", settings.one_of(CLUSTER_IMAGES),
                "cluster: a class's images are decoded from its cluster's Gaussian "
                "(generated) or are the real training images the clustering put there"),
        Setting("lasium.augment", "none", settings.one_of(TASK_AUGMENTS),
                "every task image under its own random augmentation of these ranges "
                "(fewgen_tf.data.augment.AugmentationRanges), or none"),
    ])


def add_lasium(config: ml_collections.ConfigDict, generator: str = "vae",
               strategy: str = "n") -> ml_collections.ConfigDict:
    """Add LASIUM's generator (`generator.*`) and task-sampling vocabulary (`lasium.*`)."""
    add_generator(config, generator)
    return LASIUM.add_to(config, {"lasium.strategy": strategy})


def check_strategy(strategy, ways: int) -> None:
    """ConfigError for a strategy LASIUM does not know, or `oc` with one class (it
    interpolates toward the task's other classes)."""
    LASIUM.rule("lasium.strategy")("lasium.strategy", strategy)
    if strategy == "oc" and ways < 2:
        raise ConfigError("strategy 'oc' interpolates toward other classes: it needs ways >= 2")


def real_anchors(config) -> bool:
    """Whether the tasks' anchors are encodings of real images (VAE mode): encoder-based
    generators (VAE, AugIntAE) with `lasium.vae_real_anchors`."""
    return config.generator.name in ("vae", "augintae") and bool(config.lasium.vae_real_anchors)


def check_lasium(config) -> None:
    """The pipeline `lasium`'s checks of `lasium.*` and what it asks of the generator:
    strategy `cluster` needs a class-conditional generator with clusters (a registry entry
    with `clusters`, e.g. generator.name=cola) and no real anchors; a generator it cannot
    train (meta-trained, or trained by its own pipeline) must come from
    generator.from_workdir. (Meta-learning keys: fewgen_tf.config.check_meta_learning.)"""
    LASIUM.check(config)
    strategy = config.lasium.strategy
    check_strategy(strategy, config.train.ways)
    name = config.generator.name
    entry = generator_registry.entry(name)
    if strategy == CLUSTER and not entry.clusters:
        with_clusters = sorted(n for n, e in generator_registry.GENERATORS.items() if e.clusters)
        raise ConfigError(f"lasium.strategy 'cluster' needs a class-conditional generator with "
                          f"clusters (generator.name {', '.join(with_clusters)}); "
                          f"generator.name is {name!r}: use n, ro or oc")
    if config.lasium.cluster_images == "real":
        if strategy != CLUSTER:
            raise ConfigError(f"lasium.cluster_images 'real' groups real images by the "
                              f"generator's clusters: it needs lasium.strategy 'cluster', "
                              f"not {strategy!r}")
        if not entry.hook("image_clusters"):
            raise ConfigError(f"lasium.cluster_images 'real': the {name} generator does not "
                              "record which cluster each training image is in")
    generator_registry.check_trained_here(config.generator)
    check_real_anchor_epsilon(config)


# VAE mode: the KL term keeps the encodings near N(0, I), whose mean pairwise squared
# distance is 2 * latent_dim; anchors farther apart than this many times that are out of
# reach (the check the pipeline can make before the encoder exists).
VAE_EPSILON_FACTOR = 100


def check_real_anchor_epsilon(config) -> None:
    """An impossible `lasium.epsilon` for anchors that encode real images, refused at
    start-up: the encodings exist only once the generator trained, but their scale is
    known before. AugIntAE's codes lie on the unit sphere (squared distances <= 4, a hard
    bound); a VAE's are held near N(0, I) by its KL term (beyond VAE_EPSILON_FACTOR times
    the prior's mean pairwise squared distance, 2 * latent_dim, nothing is reachable).
    A value below the bound that still fails is caught right after training, with the
    encodings' measured scale (methods/lasium/pipeline.py)."""
    if not real_anchors(config) or config.train.ways < 2:
        return
    epsilon, d = float(config.lasium.epsilon), int(config.generator.latent_dim)
    if config.generator.name == "augintae" and epsilon >= 4.0:
        raise ConfigError(f"lasium.epsilon={epsilon:g} is impossible with real anchors of an "
                          "AugIntAE: its codes lie on the unit sphere, so no two are more "
                          "than squared distance 4 apart; use a value below 4")
    bound = VAE_EPSILON_FACTOR * 2 * d
    if config.generator.name == "vae" and epsilon > bound:
        raise ConfigError(f"lasium.epsilon={epsilon:g} is out of reach with real anchors of a "
                          f"VAE: its KL term keeps the encodings near N(0, I), whose mean "
                          f"pairwise squared distance is 2 * latent_dim = {2 * d}; use a value "
                          f"below {bound:g} (typically a fraction of {2 * d})")


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


VOCABULARIES = (LASIUM,)
