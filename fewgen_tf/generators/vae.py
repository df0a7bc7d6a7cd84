"""Convolutional VAE (Kingma & Welling 2014) as used by LASIUM.

Omniglot (paper section 7 / reference code): latent 20; encoder 4 blocks of 3x3 conv
(64 channels, stride 2), BatchNorm, ReLU, then Dense to the posterior mean and
log-variance; decoder Dense(7x7x64), 2 transposed-conv blocks (BatchNorm, ReLU) up to
28x28, then a sigmoid conv. The RGB variant for 84x84 (CelebA, mini-ImageNet) is the
same builder with wider blocks and one extra 3x3 conv per decoder level (`deeper`).
Loss: Bernoulli reconstruction summed over pixels + KL, averaged over the batch.
"""

import keras
import tensorflow as tf

from fewgen_tf import distribute
from fewgen_tf.errors import ConfigError


def _encoder(image_shape, latent_dim, filters):
    layers = [keras.Input(shape=tuple(image_shape))]
    for i, width in enumerate(filters):
        layers += [keras.layers.Conv2D(width, 3, strides=2, padding="same", name=f"conv{i}"),
                   distribute.batch_normalization(name=f"bn{i}"), keras.layers.ReLU()]
    layers += [keras.layers.Flatten(), keras.layers.Dense(2 * latent_dim, name="posterior")]
    return keras.Sequential(layers, name="encoder")


def _decoder(image_shape, latent_dim, filters, deeper):
    size, channels = image_shape[0], image_shape[-1]
    if image_shape[0] != image_shape[1] or size % 4:
        raise ConfigError(f"the VAE decoder needs square images with a side divisible by 4, "
                          f"got {tuple(image_shape)}")
    start = size // 4
    layers = [keras.Input(shape=(latent_dim,)),
              keras.layers.Dense(start * start * filters[0], name="project"),
              keras.layers.Reshape((start, start, filters[0]))]
    for i, width in enumerate(filters[:2]):
        layers += [keras.layers.Conv2DTranspose(width, 3, strides=2, padding="same",
                                                name=f"up{i}"),
                   distribute.batch_normalization(name=f"up_bn{i}"), keras.layers.ReLU()]
        if deeper:
            layers += [keras.layers.Conv2D(width, 3, padding="same", name=f"refine{i}"),
                       distribute.batch_normalization(name=f"refine_bn{i}"),
                       keras.layers.ReLU()]
    layers.append(keras.layers.Conv2D(channels, 3, padding="same", name="pixels"))
    return keras.Sequential(layers, name="decoder")  # logits; decode() applies the sigmoid


def reparameterize(mean, log_variance, epsilon):
    """z = mean + exp(log_variance / 2) * epsilon: a posterior draw that gradients pass."""
    return mean + tf.exp(0.5 * log_variance) * epsilon


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per example [B]:
    -0.5 sum(1 + log_variance - mean^2 - exp(log_variance))."""
    return -0.5 * tf.reduce_sum(1 + log_variance - tf.square(mean) - tf.exp(log_variance), -1)


class VAE(keras.Model):

    def __init__(self, image_shape, latent_dim=20, filters=(64, 64, 64, 64), deeper=False,
                 seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.encoder = _encoder(image_shape, latent_dim, filters)
        self.decoder = _decoder(image_shape, latent_dim, tuple(reversed(filters)), deeper)
        self.noise = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # -------------------------------------------------------------- generator contract
    def sample_latents(self, n, seed):
        return tf.random.stateless_normal([n, self.latent_dim], seed=seed)

    def posterior(self, images, training=False):
        mean, log_variance = tf.split(self.encoder(images, training=training), 2, axis=-1)
        return mean, log_variance

    def encode(self, images):
        """The posterior mean: LASIUM's anchor for a real image."""
        return self.posterior(images)[0]

    def decode(self, latents, training=False):
        return tf.sigmoid(self.decoder(latents, training=training))

    def call(self, images, training=False):
        return self.decode(self.encode(images), training=training)

    # -------------------------------------------------------------------- training
    def losses_per_example(self, images, training=True):
        mean, log_variance = self.posterior(images, training=training)
        # (under several replicas: this replica's rows of the global batch's draw, and
        # BatchNorm on the global batch's statistics: the step equals one device's)
        epsilon = distribute.global_batch_rows(
            lambda rows: keras.random.normal((rows, self.latent_dim), seed=self.noise),
            tf.shape(mean)[0])
        z = reparameterize(mean, log_variance, epsilon)
        logits = self.decoder(z, training=training)
        reconstruction = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits), [1, 2, 3])
        return reconstruction, kl_divergence(mean, log_variance)

    def train_step(self, images):
        if isinstance(images, (tuple, list)):
            images = images[0]  # (images, labels) from a labelled source: labels dropped
        with tf.GradientTape() as tape:
            reconstruction, kl = self.losses_per_example(images)
            loss = tf.nn.compute_average_loss(reconstruction + kl)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(reconstruction + kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}


def omniglot_vae(image_shape=(28, 28, 1), latent_dim=20, seed=0):
    return VAE(image_shape, latent_dim, (64, 64, 64, 64), deeper=False, seed=seed, name="vae")


def rgb_vae(image_shape=(84, 84, 3), latent_dim=128, seed=0):
    return VAE(image_shape, latent_dim, (32, 64, 128, 256), deeper=True, seed=seed, name="vae")


def build_from_config(config, image_shape):
    """The registry's builder: the Omniglot VAE for small one-channel images, the RGB one
    otherwise, compiled with Adam(generator.lr)."""
    g = config.generator
    builder = omniglot_vae if image_shape[-1] == 1 and image_shape[0] <= 32 else rgb_vae
    model = builder(tuple(image_shape), g.latent_dim, seed=config.seed)
    model.compile(optimizer=keras.optimizers.Adam(g.lr), jit_compile=bool(g.jit_compile))
    return model
