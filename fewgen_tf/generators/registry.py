"""`config.generator.name` -> a generator: the one place every generator of the library
registers, whatever its paper.

Each entry names its builder by module path, `"package.module:function"`, imported only
when that generator is built (so this registry imports no method, and no TensorFlow),
and says how it trains: `"epochs"` (passes over the training images with `fit`,
`generator.epochs`), `"iterations"` (meta-trained, `generator.iterations`), `"pipeline"`
(trained in stages by its own pipeline: COLA; with a `train_unlabelled` hook, any
pipeline can train it inline) or `None` (pretrained, loaded from
`generator.path`), and which of its method's keys define what a checkpoint is (a
workdir refuses to resume under other values). A builder is
`build(config, image_shape[, total_steps=])` -> keras.Model, compiled when it trains.
Everything registered honours the generator contract (`latent_dim`,
`sample_latents`, `decode`), so any of them can be evaluated by the generative metrics
and be LASIUM's task source. An entry also names the `check_config(config)` of its
method's config module (`"module:function"`, TensorFlow-free), which
`pipelines.check_config` runs on every config with that generator, and the module of
its method's hooks (`hooks`): what only that method offers the others (COLA's clusters,
inline training, K = 0), kept in the method's folder rather than as fields here.
"""

import dataclasses
import importlib
from typing import Optional, Tuple

from fewgen_tf.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class GeneratorEntry:
    builder: str  # "package.module:function": (config, image_shape) -> keras.Model
    budget: Optional[str]  # "epochs" | "iterations" | "pipeline" | None (pretrained)
    # the builder takes `total_steps=` (the training length, e.g. for a learning-rate schedule)
    wants_total_steps: bool = False
    # the method's keys that define a checkpoint (an older config.json is upgraded before
    # the comparison: fewgen_tf/config_upgrades.py)
    resume_keys: Tuple[str, ...] = ()
    # "package.module:function": (config) -> None, ConfigError for a bad method key
    checks: Optional[str] = None
    # "package.module" of the method's hooks (TensorFlow-free at import), each optional:
    # CLUSTERS (class-conditional with per-cluster latents: LASIUM's strategy `cluster`),
    # complete_config(config) (derived values filled in when a run starts),
    # train_unlabelled(config, workdir, images) (budget "pipeline": the method's stages
    # train it inline for another method's pipeline), image_clusters(config, workdir,
    # images) ([N] ints: each training image's cluster in a finished run)
    hooks: Optional[str] = None

    def build(self, *args, **kwargs):
        return function_at(self.builder)(*args, **kwargs)

    def hook(self, name: str):
        """The method's hook `name` (a function or value), or None."""
        return getattr(importlib.import_module(self.hooks), name, None) if self.hooks else None

    @property
    def clusters(self) -> bool:
        return bool(self.hook("CLUSTERS"))


def function_at(path: str):
    """The function named by `"package.module:function"`, its module imported now."""
    module, function = path.split(":")
    return getattr(importlib.import_module(module), function)


GENERATORS = {
    "vae": GeneratorEntry("fewgen_tf.generators.vae:build_from_config", "epochs"),
    "msgan": GeneratorEntry("fewgen_tf.generators.msgan:build_from_config", "epochs"),
    "bigbigan": GeneratorEntry("fewgen_tf.generators.pretrained:build_bigbigan", None),
    "progan": GeneratorEntry("fewgen_tf.generators.pretrained:build_progan", None),
    "augintae": GeneratorEntry(
        "fewgen_tf.methods.augintae.model:build_from_config", "epochs", wants_total_steps=True,
        resume_keys=("augintae.variant", "augintae.architecture", "augintae.width",
                     "augintae.adversarial"),
        checks="fewgen_tf.methods.augintae.config:check_augintae"),
    "cola": GeneratorEntry(  # trained by the pipelines cola / scola
        "fewgen_tf.methods.cola.model:build_from_config", "pipeline",
        resume_keys=("cola.class_codes", "cola.num_clusters", "cola.architecture",
                     "cola.conditional_bn", "cola.width", "cola.encoder_widths",
                     "cola.encoder_blocks", "cola.mixture_rank", "cola.rotnet",
                     "cola.refine_epoch", "cola.refine_method", "cola.assignment_loss"),
        checks="fewgen_tf.methods.cola.config:check_cola",
        hooks="fewgen_tf.methods.cola.hooks"),
    "meta_favae": GeneratorEntry(  # meta-trained by the pipeline meta_favae
        "fewgen_tf.methods.meta_favae.model:build_from_config", "iterations",
        resume_keys=("meta_favae.variant", "meta_favae.vae", "meta_favae.noise_dim",
                     "meta_favae.width", "meta_favae.upsampling", "meta_favae.meta_batch"),
        checks="fewgen_tf.methods.meta_favae.config:check_meta_favae"),
}


def entry(name: str) -> GeneratorEntry:
    if name not in GENERATORS:
        raise ConfigError(f"unknown generator.name {name!r}; valid: "
                          f"{', '.join(sorted(GENERATORS))}")
    return GENERATORS[name]


def check_trained_here(generator_config) -> None:
    """ConfigError unless `train_generator` can provide the generator of
    `generator_config`: one it trains with `fit` (budget "epochs"), a pretrained one, or
    one restored from `generator.from_workdir`, or one trained in stages by its method's
    `train_unlabelled` hook; a meta-trained generator, or one trained in stages by its own
    pipeline without that hook, must come from `from_workdir`."""
    g = generator_config
    found = entry(g.name)
    budget = found.budget
    if budget == "pipeline" and found.hook("train_unlabelled"):
        return
    if budget in ("iterations", "pipeline") and not g.from_workdir:
        how = ("meta-trained (generator.iterations)" if budget == "iterations"
               else "trained in stages by its own pipeline")
        raise ConfigError(f"generator {g.name!r} is {how}; its pipeline trains it (reuse a "
                          "trained one with generator.from_workdir)")


def _entry_of(config) -> Optional[GeneratorEntry]:
    """The entry of the config's generator, or None (no generator, or an unknown name:
    the checks report that)."""
    name = config.generator.name if "generator" in config else None
    return GENERATORS.get(name)


def complete_config(config) -> None:
    """Run the config's generator's `complete_config` hook (derived values filled in
    place), if any; `pipelines.run` calls it before the checks and before config.json is
    written."""
    found = _entry_of(config)
    complete = found.hook("complete_config") if found else None
    if complete:
        complete(config)


def resume_keys(config) -> Tuple[str, ...]:
    """The keys of the config's generator's method that define a checkpoint (none for a
    config without a registered generator)."""
    found = _entry_of(config)
    return found.resume_keys if found else ()


def build_generator(config, image_shape, total_steps=None):
    """The generator named by `config.generator.name` for images of `image_shape`,
    initialised from `config.seed` (call inside the run's `strategy.scope()`).
    `total_steps` (the training length) reaches builders that ask for it."""
    import keras  # late: the registry itself stays free of TensorFlow

    found = entry(config.generator.name)
    keras.utils.set_random_seed(config.seed)
    if found.wants_total_steps:
        return found.build(config, image_shape, total_steps=total_steps)
    return found.build(config, image_shape)
