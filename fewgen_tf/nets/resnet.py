"""The CIFAR ResNets of He et al. (2016, section 4.2): ResNet-20 and its relatives.

A 3x3 convolution with `filters` channels, then three stages of n basic blocks each
(two 3x3 convolutions with batch normalisation; ReLU after the first and after the
residual sum) with `filters`, 2x`filters` and 4x`filters` channels, the first block of
stages 2 and 3 striding by 2, then the spatial mean. Depth = 6n + 2 layers with
weights: ResNet-20 is n = 3 with 16/32/64 filters, 0.27M parameters with a 10-way head
(269,722: the number COLA's Table 3 and the reference PyTorch ports give).

Shortcuts are He et al.'s option A, the one they use on CIFAR: the identity, and where a
block halves the resolution and doubles the channels, every second pixel padded with
zero channels (no parameters). Convolutions have no bias (batch normalisation follows
each) and He-normal kernels. Normalisation is `meta.layers.BatchStatNorm`, a complete
BatchNorm whose moving moments `metrics.classifier` replaces with population moments
after training ("precise BN").

The network is a functional `keras.Model` from images to features (`4 * filters`
numbers); `metrics.classifier.Classifier(backbone="resnet20")` adds the Dense head.
"""

import keras

from fewgen_tf.nets import layers as meta_layers

BACKBONES = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9}
BN_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="fewgen_tf")
class DownsampleShortcut(keras.layers.Layer):
    """Option-A shortcut: every second pixel, zero channels padded on both sides."""

    def __init__(self, out_channels, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = int(out_channels)

    def call(self, inputs):
        x = inputs[:, ::2, ::2, :]
        extra = self.out_channels - inputs.shape[-1]
        before = extra // 2
        return keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [before, extra - before]])

    def compute_output_shape(self, input_shape):
        half = lambda n: None if n is None else (n + 1) // 2  # noqa: E731
        return (input_shape[0], half(input_shape[1]), half(input_shape[2]), self.out_channels)

    def get_config(self):
        return dict(super().get_config(), out_channels=self.out_channels)


def _conv_bn(x, filters, strides, name):
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                            kernel_initializer="he_normal", name=f"{name}_conv")(x)
    return meta_layers.BatchStatNorm(BN_EPSILON, momentum=0.9, name=f"{name}_bn")(x)


def _basic_block(x, filters, strides, name):
    shortcut = x if strides == 1 and x.shape[-1] == filters else DownsampleShortcut(
        filters, name=f"{name}_shortcut")(x)
    y = keras.layers.ReLU(name=f"{name}_relu1")(_conv_bn(x, filters, strides, f"{name}_1"))
    y = _conv_bn(y, filters, 1, f"{name}_2")
    return keras.layers.ReLU(name=f"{name}_relu2")(keras.layers.Add(name=f"{name}_add")(
        [y, shortcut]))


def resnet_embedding(input_shape, backbone: str = "resnet20", filters: int = 16,
                     name: str = "embedding") -> keras.Model:
    """Images [n, H, W, C] -> features [n, 4 * filters] (a CIFAR ResNet without head).

    Works at any size from 4x4 up (28x28 digits: 28 -> 14 -> 7; 32x32: 32 -> 16 -> 8).
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown ResNet {backbone!r}; valid: {', '.join(BACKBONES)}")
    blocks = BACKBONES[backbone]
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.ReLU(name="stem_relu")(_conv_bn(inputs, filters, 1, "stem"))
    for stage in range(3):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters * 2 ** stage, strides, f"stage{stage + 1}_block{block + 1}")
    outputs = keras.layers.GlobalAveragePooling2D(name="spatial_mean")(x)
    return keras.Model(inputs, outputs, name=name)
