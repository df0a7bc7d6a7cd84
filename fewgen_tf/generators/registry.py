"""`config.generator.name` -> a generator: the one place every generator of the library
registers, whatever its paper.

Each entry says how to build the model from the `generator.*` vocabulary (compiled
when it trains) and how it trains: `"epochs"` (passes over the training images with
`fit`, `generator.epochs`), `"iterations"` (meta-trained, `generator.iterations`) or
`None` (pretrained, loaded from `generator.path`). Everything registered honours the
DESIGN's generator contract (`latent_dim`, `sample_latents`, `decode`), so any of them
can be evaluated by the generative metrics and be LASIUM's task source.
"""

import dataclasses
from typing import Callable, Optional

import keras

from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import msgan, pretrained, vae


@dataclasses.dataclass(frozen=True)
class GeneratorEntry:
    build: Callable  # (config, image_shape) -> keras.Model (compiled when it trains)
    budget: Optional[str]  # "epochs" | "iterations" | None (pretrained)


def _build_vae(config, image_shape):
    g = config.generator
    builder = vae.omniglot_vae if image_shape[-1] == 1 and image_shape[0] <= 32 else vae.rgb_vae
    model = builder(tuple(image_shape), g.latent_dim, seed=config.seed)
    model.compile(optimizer=keras.optimizers.Adam(g.lr), jit_compile=bool(g.jit_compile))
    return model


def _build_msgan(config, image_shape):
    g = config.generator
    if g.mixed_bfloat16:  # measured for the GAN step only
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = msgan.omniglot_msgan(tuple(image_shape), g.latent_dim, g.mode_seeking_weight,
                                     seed=config.seed)
        model.compile(g_optimizer=keras.optimizers.Adam(g.lr, beta_1=0.5),
                      d_optimizer=keras.optimizers.Adam(g.lr, beta_1=0.5),
                      jit_compile=bool(g.jit_compile))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model


def _build_pretrained(kind):
    def build(config, image_shape):
        return pretrained.PretrainedGenerator(config.generator.path, kind, image_shape[0])
    return build


GENERATORS = {
    "vae": GeneratorEntry(_build_vae, "epochs"),
    "msgan": GeneratorEntry(_build_msgan, "epochs"),
    "bigbigan": GeneratorEntry(_build_pretrained("bigbigan"), None),
    "progan": GeneratorEntry(_build_pretrained("progan"), None),
}


def entry(name: str) -> GeneratorEntry:
    if name not in GENERATORS:
        raise ConfigError(f"unknown generator.name {name!r}; valid: "
                          f"{', '.join(sorted(GENERATORS))}")
    return GENERATORS[name]


def is_trainable(name: str) -> bool:
    return entry(name).budget is not None


def build_generator(config, image_shape):
    """The generator named by `config.generator.name` for images of `image_shape`,
    initialised from `config.seed` (call inside the run's `strategy.scope()`)."""
    build = entry(config.generator.name).build
    keras.utils.set_random_seed(config.seed)
    return build(config, image_shape)
