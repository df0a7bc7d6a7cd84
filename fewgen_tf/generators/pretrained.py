"""Pretrained generators from a SavedModel path or a TF-Hub handle (BigBiGAN, ProGAN),
wrapped as Keras 3 layers with the generator contract.

`hub.KerasLayer` is a tf-keras layer and breaks inside Keras 3 models, so the module
is loaded with `tensorflow_hub.load` (which also reads plain SavedModel directories)
and one of its signatures is called directly:
  BigBiGAN (deepmind/bigbigan-resnet50/1): signature `generate`, latent 120, output
      128x128 RGB in [-1, 1], mapped to [0, 1];
  ProGAN (google/progan-128/1): signature `default`, latent 512, output 128x128 in [0, 1].
Outputs are resized to the meta-learner's `image_size`.
"""

import os

import keras
import tensorflow as tf

from fewgen_tf.errors import ConfigError

KINDS = {
    # kind: (signature, latent_dim, output range)
    "bigbigan": ("generate", 120, (-1.0, 1.0)),
    "progan": ("default", 512, (0.0, 1.0)),
}


def load_module(handle: str):
    """`tensorflow_hub.load` of a local SavedModel directory or a hub handle."""
    import tensorflow_hub as hub

    if not handle:
        raise ConfigError("generator.path is empty: give a SavedModel directory or a "
                          "TF-Hub handle of the pretrained generator")
    if "://" not in handle and not os.path.isdir(handle):
        raise ConfigError(f"pretrained generator {handle!r} is neither a directory nor a "
                          "hub handle (https://...)")
    try:
        return hub.load(handle)
    except (OSError, ValueError, tf.errors.OpError) as e:
        raise ConfigError(f"cannot load the pretrained generator {handle!r}: "
                          f"{str(e).strip().splitlines()[0]}") from None


class PretrainedGenerator(keras.layers.Layer):
    """A SavedModel signature as a generator: `decode(z) -> images in [0, 1]`."""

    def __init__(self, handle: str, kind: str, image_size: int, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ConfigError(f"unknown pretrained generator {kind!r}; valid: "
                              f"{', '.join(sorted(KINDS))}")
        signature, self.latent_dim, (self.low, self.high) = KINDS[kind]
        self.module = load_module(handle)
        signatures = getattr(self.module, "signatures", {})
        if signature not in signatures:
            raise ConfigError(
                f"{handle!r} has no {signature!r} signature (found: "
                f"{', '.join(sorted(signatures)) or 'none'}); a {kind} module must provide "
                f"{signature}(z: float32 [N, {self.latent_dim}]) -> images")
        self.function = signatures[signature]
        inputs = self.function.structured_input_signature[1]
        if len(inputs) != 1 or list(inputs.values())[0].shape[-1] not in (None, self.latent_dim):
            raise ConfigError(f"{handle!r}: signature {signature!r} must take one latent input of "
                              f"size {self.latent_dim}, got {inputs}")
        self.input_name = list(inputs)[0]
        self.image_size = image_size
        self.built = True  # no weights of its own: the module holds them

    def sample_latents(self, n, seed):
        return tf.random.stateless_normal([n, self.latent_dim], seed=seed)

    def decode(self, latents, training=False):
        outputs = self.function(**{self.input_name: tf.cast(latents, tf.float32)})
        images = outputs["default"] if "default" in outputs else list(outputs.values())[0]
        images = (tf.cast(images, tf.float32) - self.low) / (self.high - self.low)
        images = tf.image.resize(images, (self.image_size, self.image_size), antialias=True)
        return tf.clip_by_value(images, 0.0, 1.0)

    def call(self, latents):
        return self.decode(latents)


def build_bigbigan(config, image_shape):
    """The registry's builder for `generator.name = bigbigan` (its `generate` signature)."""
    return PretrainedGenerator(config.generator.path, "bigbigan", image_shape[0])


def build_progan(config, image_shape):
    """The registry's builder for `generator.name = progan` (its `default` signature)."""
    return PretrainedGenerator(config.generator.path, "progan", image_shape[0])
