"""The InfoGAN / DCGAN encoder E, generator G and discriminator D of AugIntAE's appendix
A.1 (COLA's InfoGAN generator is the same G).

  infogan  the InfoGAN 4-layer networks for handwritten characters (Chen et al. 2016),
           square images with a side divisible by 4 (28x28 -> 7x7):
             E / D: Conv(64, 4, s2) LeakyReLU(0.1); Conv(128, 4, s2) BN LeakyReLU(0.1);
                    Dense(1024) BN LeakyReLU(0.1); Dense(latent_dim) (D: Dense(1)).
             G:     Dense(1024) BN ReLU; Dense(s/4 * s/4 * 128) BN ReLU;
                    ConvT(64, 4, s2) BN ReLU; ConvT(channels, 4, s2) sigmoid.
  dcgan    DCGAN (Radford et al. 2016) for RGB, square sides 32 * 2^j: stride-2 4x4
           convolutions from 4x4 up to the image, the widest (512) next to the latent, each
           further layer half as wide; 64x64 has 64-128-256-512, and 128x128 gets the
           extra half-width (32) layer at the bottom of E and the top of G (section 5.3).
             E / D: Conv(w, 4, s2) [BN except first] LeakyReLU(0.2) ...; Dense(latent_dim)
             G:     Dense(4*4*512) BN ReLU; ConvT(w, 4, s2) BN ReLU ...; ConvT(channels) sigmoid.

The discriminator has the encoder's architecture with one (linear, LSGAN) output.
`width` scales every layer's width (1.0 = the paper's; tests use small values).
"""

import math

import keras

from fewgen_tf import distribute
from fewgen_tf.errors import ConfigError

ARCHITECTURES = ("auto", "infogan", "dcgan")


def resolve_architecture(name, image_shape, key="architecture"):
    """`auto`: InfoGAN for grey images up to 32 pixels wide (characters), else DCGAN.
    `key`: the config key the name came from (for the error)."""
    if name not in ARCHITECTURES:
        raise ConfigError(f"unknown {key} {name!r}; valid: "
                          f"{', '.join(ARCHITECTURES)}")
    if name == "auto":
        return "infogan" if image_shape[-1] == 1 and image_shape[0] <= 32 else "dcgan"
    return name


def check_shapes(architecture, image_shape, latent_dim, owner="this model"):
    """A ConfigError naming the value the architecture cannot take; `owner` names the
    model in the message (e.g. "AugIntAE")."""
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 2:
        raise ConfigError(f"generator.latent_dim must be an int >= 2 for {owner}, got {latent_dim!r}")
    if len(image_shape) != 3 or image_shape[-1] not in (1, 3):
        raise ConfigError(f"{owner} needs [H, W, 1] or [H, W, 3] images, got {tuple(image_shape)}")
    height, width = image_shape[:2]
    if height != width:
        raise ConfigError(f"the {architecture} {owner} needs square images, got "
                          f"{height}x{width} (set data.image_size)")
    if architecture == "infogan" and (height % 4 or height < 8):
        raise ConfigError(f"the infogan {owner} needs an image side divisible by 4 and >= 8 "
                          f"(28 for characters), got {height} (set data.image_size)")
    if architecture == "dcgan":
        layers = math.log2(height / 4) if height >= 32 else 0
        if not float(layers).is_integer() or height < 32:
            raise ConfigError(f"the dcgan {owner} needs an image side of 32 * 2^j (32, 64, "
                              f"128, ...), got {height} (set data.image_size)")


def _w(n, width):
    return max(1, int(round(n * width)))


def _dcgan_widths(size, width):
    layers = int(round(math.log2(size / 4)))
    return [_w(512 // 2 ** (layers - 1 - i), width) if layers - 1 - i < 4 else _w(32, width)
            for i in range(layers)]  # bottom (image side) first


def encoder_network(architecture, image_shape, outputs, width=1.0, name="encoder"):
    """E (outputs = latent_dim) or D (outputs = 1): the same architecture (A.1)."""
    layers = [keras.Input(shape=tuple(image_shape))]
    if architecture == "infogan":
        layers += [keras.layers.Conv2D(_w(64, width), 4, strides=2, padding="same"),
                   keras.layers.LeakyReLU(0.1),
                   keras.layers.Conv2D(_w(128, width), 4, strides=2, padding="same"),
                   distribute.batch_normalization(), keras.layers.LeakyReLU(0.1),
                   keras.layers.Flatten(),
                   keras.layers.Dense(_w(1024, width)),
                   distribute.batch_normalization(), keras.layers.LeakyReLU(0.1)]
    else:
        for i, filters in enumerate(_dcgan_widths(image_shape[0], width)):
            layers.append(keras.layers.Conv2D(filters, 4, strides=2, padding="same"))
            if i:
                layers.append(distribute.batch_normalization())
            layers.append(keras.layers.LeakyReLU(0.2))
        layers.append(keras.layers.Flatten())
    layers.append(keras.layers.Dense(outputs, name="output"))
    return keras.Sequential(layers, name=name)


def generator_network(architecture, image_shape, latent_dim, width=1.0):
    """G: unit latents -> images in [0, 1] (sigmoid)."""
    size, channels = image_shape[0], image_shape[-1]
    layers = [keras.Input(shape=(latent_dim,))]
    if architecture == "infogan":
        start = size // 4
        layers += [keras.layers.Dense(_w(1024, width)), distribute.batch_normalization(),
                   keras.layers.ReLU(),
                   keras.layers.Dense(start * start * _w(128, width)),
                   distribute.batch_normalization(), keras.layers.ReLU(),
                   keras.layers.Reshape((start, start, _w(128, width))),
                   keras.layers.Conv2DTranspose(_w(64, width), 4, strides=2, padding="same"),
                   distribute.batch_normalization(), keras.layers.ReLU()]
    else:
        widths = list(reversed(_dcgan_widths(size, width)))  # top (latent side) first
        layers += [keras.layers.Dense(4 * 4 * widths[0]), distribute.batch_normalization(),
                   keras.layers.ReLU(), keras.layers.Reshape((4, 4, widths[0]))]
        for filters in widths[1:]:
            layers += [keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same"),
                       distribute.batch_normalization(), keras.layers.ReLU()]
    layers.append(keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same",
                                               activation="sigmoid", name="pixels"))
    return keras.Sequential(layers, name="generator")
