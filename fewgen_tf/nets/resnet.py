"""The CIFAR ResNets of He et al. (2016, section 4.2): ResNet-20 and its relatives; and
`projection_resnet`, the ResNet-18 family at CIFAR scale (COLA step I's encoder).

A 3x3 convolution with `filters` channels, then three stages of n basic blocks each
(two 3x3 convolutions with batch normalisation; ReLU after the first and after the
residual sum) with `filters`, 2x`filters` and 4x`filters` channels, the first block of
stages 2 and 3 striding by 2, then the spatial mean. Depth = 6n + 2 layers with
weights: ResNet-20 is n = 3 with 16/32/64 filters, 0.27M parameters with a 10-way head
(269,722: the number COLA's Table 3 and the reference PyTorch ports give).

Shortcuts are He et al.'s option A, the one they use on CIFAR: the identity, and where a
block halves the resolution and doubles the channels, every second pixel padded with
zero channels (no parameters). Convolutions have no bias (batch normalisation follows
each) and He-normal kernels. Normalisation is `nets.layers.BatchStatNorm`, a complete
BatchNorm whose moving moments `metrics.classifier` replaces with population moments
after training ("precise BN").

The network is a functional `keras.Model` from images to features (`4 * filters`
numbers); `metrics.classifier.Classifier(backbone="resnet20")` adds the Dense head.

`projection_resnet` is another network: any widths and blocks per stage, projection
shortcuts (a strided 1x1 convolution and its BatchNorm) where the shape changes, Keras'
BatchNormalization (synchronised over the replicas when built under several:
`distribute.batch_normalization`) and default initialisers, as the MMDC reference code
that COLA's step I follows (ResNet-18: widths 64-128-256-512, two blocks a stage).
"""

import keras

from fewgen_tf import distribute
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


# ------------------------------------------------------------- projection_resnet
# PyTorch's BatchNorm momentum=0.1 (the reference); Keras' default 0.99 left the moving
# statistics lagging so far behind a young encoder's weights that its inference-mode
# embeddings collapsed onto one point.
BN_MOMENTUM = 0.9


def _momentum_batch_norm(name):
    return distribute.batch_normalization(momentum=BN_MOMENTUM, name=name)


def _projection_block(x, filters, stride, name):
    shortcut = x
    y = keras.layers.Conv2D(filters, 3, stride, "same", use_bias=False, name=f"{name}_conv1")(x)
    y = _momentum_batch_norm(f"{name}_bn1")(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(filters, 3, 1, "same", use_bias=False, name=f"{name}_conv2")(y)
    y = _momentum_batch_norm(f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, stride, use_bias=False,
                                       name=f"{name}_proj")(x)
        shortcut = _momentum_batch_norm(f"{name}_proj_bn")(shortcut)
    return keras.layers.ReLU()(y + shortcut)


def projection_resnet(image_shape, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
    """Images -> pooled features [n, widths[-1]]: a 3x3 stem, no max-pool, then per stage
    s `blocks[s]` basic blocks of `widths[s]` channels (stage s > 0 starts with stride 2),
    projection shortcuts where the shape changes: widths (64, 128, 256, 512) x blocks
    (2, 2, 2, 2) is ResNet-18 at CIFAR scale (COLA step I's encoder)."""
    widths, blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
    inputs = keras.Input(tuple(image_shape))
    x = keras.layers.Conv2D(widths[0], 3, 1, "same", use_bias=False, name="stem")(inputs)
    x = keras.layers.ReLU()(_momentum_batch_norm("stem_bn")(x))
    for s, (filters, count) in enumerate(zip(widths, blocks)):
        for b in range(count):
            x = _projection_block(x, filters, 2 if s and not b else 1, f"stage{s}_block{b}")
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="resnet")
