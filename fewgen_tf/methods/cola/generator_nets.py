"""COLA's step-II generators G(z) of codes z = (t, v) in R^(K+d) (paper Tables 4-5):
`infogan`, InfoGAN's network (the paper's small-sample choice; nets/infogan_dcgan.py,
shared with AugIntAE), and `residual`, DCGAN / CGAN-style residual blocks with bilinear
upsampling, with `conditional` CGAN's conditional BatchNorm: gamma = 1 + W_g t and
beta = W_b t from the code's class part t, for a one-hot t a per-class scale and shift."""

import keras

from fewgen_tf import distribute
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.cola import config as cola_config
from fewgen_tf.nets import infogan_dcgan


def _w(n, width):
    return max(1, int(round(n * width)))


class ConditionalBatchNorm(keras.layers.Layer):
    """BatchNorm without its own affine, then (1 + W_g t) * x + W_b t with t the code's
    class part: for one-hot t, CGAN's per-class gamma and beta."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = distribute.batch_normalization(center=False, scale=False)

    def build(self, input_shape):
        x_shape, t_shape = input_shape
        channels = int(x_shape[-1])
        self.norm.build(x_shape)
        self.gamma = keras.layers.Dense(channels, kernel_initializer="zeros", use_bias=False)
        self.beta = keras.layers.Dense(channels, kernel_initializer="zeros", use_bias=False)
        self.gamma.build(t_shape)
        self.beta.build(t_shape)

    def call(self, inputs, training=False):
        x, t = inputs
        x = self.norm(x, training=training)
        return x * (1.0 + self.gamma(t)[:, None, None, :]) + self.beta(t)[:, None, None, :]


def _residual_start(size):
    ups = 0
    while size % 2 == 0 and size // 2 >= 4:
        size, ups = size // 2, ups + 1
    return size, ups


def residual_generator(image_shape, latent_dim, num_clusters, conditional=False,
                       width=1.0):
    """DCGAN/CGAN-style residual generator (Miyato's ResNet G, 256 channels at width 1):
    Dense -> s0 x s0 -> residual up-blocks [norm, ReLU, bilinear x2, conv3, norm, ReLU,
    conv3] + (x2, conv1) shortcut -> norm, ReLU, conv3, sigmoid. Norm = BN, or
    conditional BN on the code's first `num_clusters` entries."""
    size, channels = int(image_shape[0]), int(image_shape[-1])
    start, ups = _residual_start(size)
    if ups == 0:
        raise ConfigError(f"the residual COLA generator needs an even image side >= 8, got "
                          f"{size}")
    filters = _w(256, width)
    z = keras.Input((latent_dim,))
    t = z[:, :num_clusters]

    def norm(x, name):
        if conditional:
            return ConditionalBatchNorm(name=name)([x, t])
        return distribute.batch_normalization(name=name)(x)

    h = keras.layers.Reshape((start, start, filters))(
        keras.layers.Dense(start * start * filters, name="project")(z))
    for i in range(ups):
        y = keras.layers.ReLU()(norm(h, f"block{i}_norm1"))
        y = keras.layers.UpSampling2D(interpolation="bilinear")(y)
        y = keras.layers.Conv2D(filters, 3, padding="same", name=f"block{i}_conv1")(y)
        y = keras.layers.ReLU()(norm(y, f"block{i}_norm2"))
        y = keras.layers.Conv2D(filters, 3, padding="same", name=f"block{i}_conv2")(y)
        shortcut = keras.layers.Conv2D(filters, 1, name=f"block{i}_shortcut")(
            keras.layers.UpSampling2D(interpolation="bilinear")(h))
        h = y + shortcut
    h = keras.layers.ReLU()(norm(h, "out_norm"))
    out = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid",
                              name="pixels")(h)
    return keras.Model(z, out, name="generator")


def generator_network(architecture, image_shape, latent_dim, num_clusters,
                      conditional=False, width=1.0):
    image_shape = tuple(int(s) for s in image_shape)
    cola_config.check_generator_options(architecture, conditional)
    if len(image_shape) != 3 or image_shape[0] != image_shape[1]:
        raise ConfigError(f"COLA needs square [H, W, C] images, got {image_shape}")
    if architecture == "infogan":
        infogan_dcgan.check_shapes("infogan", image_shape, latent_dim, "COLA")
        return infogan_dcgan.generator_network("infogan", image_shape, latent_dim, width)
    return residual_generator(image_shape, latent_dim, num_clusters, conditional, width)
