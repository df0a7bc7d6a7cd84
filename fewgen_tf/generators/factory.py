"""`config.lasium.generator` -> a compiled trainable generator or a pretrained one."""

import keras

from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import msgan, pretrained, vae

GENERATORS = ("vae", "msgan", "bigbigan", "progan")


def is_trainable(name: str) -> bool:
    return name in ("vae", "msgan")


def build_generator(config, image_shape):
    """The generator named by `config.lasium.generator` for images of `image_shape`."""
    lasium = config.lasium
    name = lasium.generator
    if name not in GENERATORS:
        raise ConfigError(f"unknown lasium.generator {name!r}; valid: {', '.join(GENERATORS)}")
    if not is_trainable(name):
        return pretrained.PretrainedGenerator(lasium.generator_path, name, image_shape[0])
    if lasium.mixed_bfloat16 and name == "msgan":  # measured for the GAN step only
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    jit_compile = bool(lasium.jit_compile)
    try:
        keras.utils.set_random_seed(config.seed)
        if name == "vae":
            builder = vae.omniglot_vae if image_shape[-1] == 1 and image_shape[0] <= 32 \
                else vae.rgb_vae
            model = builder(tuple(image_shape), lasium.latent_dim, seed=config.seed)
            model.compile(optimizer=keras.optimizers.Adam(lasium.generator_lr),
                          jit_compile=jit_compile)
        else:
            model = msgan.omniglot_msgan(tuple(image_shape), lasium.latent_dim,
                                         lasium.mode_seeking_weight, seed=config.seed)
            model.compile(g_optimizer=keras.optimizers.Adam(lasium.generator_lr, beta_1=0.5),
                          d_optimizer=keras.optimizers.Adam(lasium.generator_lr, beta_1=0.5),
                          jit_compile=jit_compile)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model
