"""LASIUM's config vocabulary: `lasium.*` (task sampling) on top of `generator.*`, and its
checks (`check_lasium`, run by `pipelines.check_config` before anything trains)."""

import ml_collections

from fewgen_tf import config as config_lib
from fewgen_tf.config import add_generator, add_meta_learning, base_config
from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import registry as generator_registry

LATENT_STRATEGIES = ("n", "ro", "oc")  # in-class latents around anchors
CLUSTER = "cluster"                     # classes = clusters of a class-conditional generator
STRATEGIES = LATENT_STRATEGIES + (CLUSTER,)


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


LASIUM_RULES = {
    "lasium.strategy": config_lib.one_of(STRATEGIES),
    "lasium.variance": config_lib.number(0),
    "lasium.alpha": config_lib.number(0, 1),
    "lasium.epsilon": config_lib.number(0),
    "lasium.max_resamples": config_lib.integer(0),
    "lasium.translate": config_lib.integer(0),
    "lasium.vae_real_anchors": config_lib.boolean(),
}


def check_strategy(strategy, ways: int) -> None:
    """ConfigError for a strategy LASIUM does not know, or `oc` with one class (it
    interpolates toward the task's other classes)."""
    LASIUM_RULES["lasium.strategy"]("lasium.strategy", strategy)
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
    config_lib.check_rules(config, LASIUM_RULES)
    strategy = config.lasium.strategy
    check_strategy(strategy, config.train.ways)
    name = config.generator.name
    entry = generator_registry.entry(name)
    if strategy == CLUSTER and not entry.clusters:
        with_clusters = sorted(n for n, e in generator_registry.GENERATORS.items() if e.clusters)
        raise ConfigError(f"lasium.strategy 'cluster' needs a class-conditional generator with "
                          f"clusters (generator.name {', '.join(with_clusters)}); "
                          f"generator.name is {name!r}: use n, ro or oc")
    generator_registry.check_trained_here(config.generator)


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
