"""The networks meta-learners adapt (`meta.backbone`).

conv4 (Vinyals et al. 2016; MAML, ProtoNets): four blocks of 3x3 conv (`filters`,
  'same'), batch normalisation, ReLU and 2x2 max-pool, then flatten: 64 features for
  28x28 Omniglot, 1600 for 84x84 images.
conv4_ceil: conv4 whose max-pools keep a last odd row / column (Keras 'same' padding,
  PyTorch's ceil_mode, as PsCo's Omniglot conv4): 28 -> 14 -> 7 -> 4 -> 2, so 256
  features for 28x28 and no part of the last feature map dropped (conv4's floor pool
  of the 3x3 map reads only its top-left 2x2 window).
strided4 (the Omniglot network of the LASIUM authors' TF2 code, not the max-pool
  conv4): four blocks of 3x3 conv with stride 2, batch normalisation without scale,
  ReLU, then the mean over the spatial axes: `filters` features at any image size.

All normalise with `layers.BatchStatNorm` (batch moments exact to second order, for
MAML) and initialise with `meta.init` (`layers.initialisers`); `bn_epsilon` is the
normalisation's epsilon.
"""

import keras

from fewgen_tf import config as config_lib
from fewgen_tf.nets import layers as meta_layers

BACKBONES = config_lib.META_BACKBONES  # the names meta.backbone takes


def _conv(filters, in_channels, strides, init, name):
    """A 3x3 convolution WITHOUT bias: the batch normalisation after it removes any
    per-channel shift, so a bias could not change the function; its meta-gradient is
    exactly 0, and Adam would turn that 0's float noise into full-size random steps."""
    kernel, _ = meta_layers.initialisers(init, in_channels * 9)
    return keras.layers.Conv2D(filters, 3, strides=strides, padding="same", name=name,
                               use_bias=False, kernel_initializer=kernel)


def _feature_layers(backbone, channels, filters, init, bn_epsilon):
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; valid: {', '.join(BACKBONES)}")
    strided = backbone == "strided4"
    layers, in_channels = [], channels
    for block in range(4):
        layers += [
            _conv(filters, in_channels, 2 if strided else 1, init, f"conv{block}"),
            meta_layers.BatchStatNorm(bn_epsilon, scale=not strided, name=f"bn{block}"),
            keras.layers.ReLU(name=f"relu{block}"),
        ]
        if not strided:
            padding = "same" if backbone == "conv4_ceil" else "valid"
            layers.append(keras.layers.MaxPooling2D(2, padding=padding, name=f"pool{block}"))
        in_channels = filters
    layers.append(keras.layers.GlobalAveragePooling2D(name="spatial_mean") if strided
                  else keras.layers.Flatten(name="flatten"))
    return layers


def feature_dim(backbone, input_shape, filters):
    if backbone == "strided4":
        return filters
    height, width = input_shape[0], input_shape[1]
    for _ in range(4):
        if backbone == "conv4_ceil":
            height, width = -(-height // 2), -(-width // 2)
        else:
            height, width = height // 2, width // 2
    return filters * height * width


def embedding(input_shape, filters: int = 64, backbone: str = "conv4", init: str = "torch",
              bn_epsilon: float = 1e-3, name: str = "embedding") -> keras.Sequential:
    """The embedding network (ProtoNets)."""
    return keras.Sequential(
        [keras.Input(shape=tuple(input_shape))]
        + _feature_layers(backbone, input_shape[-1], filters, init, bn_epsilon), name=name)


def classifier(input_shape, ways: int, filters: int = 64, backbone: str = "conv4",
               init: str = "torch", bn_epsilon: float = 1e-3,
               name: str = "classifier") -> keras.Sequential:
    """The embedding with a Dense(ways) head: the network MAML and Reptile adapt."""
    kernel, bias = meta_layers.initialisers(init, feature_dim(backbone, input_shape, filters))
    return keras.Sequential(
        [keras.Input(shape=tuple(input_shape))]
        + _feature_layers(backbone, input_shape[-1], filters, init, bn_epsilon)
        + [keras.layers.Dense(ways, name="head", kernel_initializer=kernel,
                              bias_initializer=bias)], name=name)
