"""MSGAN (Mao et al. 2019): a DCGAN with the mode-seeking regulariser, LASIUM's
Omniglot generator.

Generator (latent 128): Dense(7x7x128), LeakyReLU(0.2), reshape, 2 x
[ConvTranspose(128, 4, stride 2), LeakyReLU(0.2)], Conv(channels, 7, sigmoid).
Discriminator: Conv 64/128/128 (3x3, stride 2, LeakyReLU(0.2)), global max-pool,
Dense(1) logit. Both trained by Adam with BCE on logits. Mode seeking in the official
form: for pairs (z1, z2) with images G(z1), G(z2),
  lz = mean|G(z1) - G(z2)| / mean|z1 - z2|,   L_ms = 1 / (lz + 1e-5),
added (weight `mode_seeking_weight`) to the generator loss. Pairs are the two halves
of one latent batch and of the images generated FROM THAT SAME batch (the LASIUM
reference computes G(z1) from another latent batch, a bug).
"""

import keras
import tensorflow as tf

from fewgen_tf import distribute

MODE_SEEKING_EPS = 1e-5


def mode_seeking_term(latents_a, latents_b, images_a, images_b):
    """1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5)."""
    image_distance = tf.reduce_mean(tf.abs(images_a - images_b))
    latent_distance = tf.reduce_mean(tf.abs(latents_a - latents_b))
    return 1.0 / (image_distance / latent_distance + MODE_SEEKING_EPS)


def omniglot_generator(latent_dim=128, channels=1, size=28):
    start = size // 4
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        keras.layers.Dense(start * start * 128), keras.layers.LeakyReLU(0.2),
        keras.layers.Reshape((start, start, 128)),
        keras.layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2D(channels, 7, padding="same", activation="sigmoid",
                            dtype="float32"),  # images stay float32 under mixed precision
    ], name="generator")


def omniglot_discriminator(image_shape=(28, 28, 1)):
    return keras.Sequential([
        keras.Input(shape=tuple(image_shape)),
        keras.layers.Conv2D(64, 3, strides=2, padding="same"), keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2D(128, 3, strides=2, padding="same"), keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2D(128, 3, strides=2, padding="same"), keras.layers.LeakyReLU(0.2),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(1, dtype="float32"),
    ], name="discriminator")


def _bce(labels_value, logits):
    logits = tf.cast(logits, tf.float32)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), labels_value),
                                                   logits=logits)[:, 0]


class MSGAN(keras.Model):

    def __init__(self, generator, discriminator, latent_dim=128, mode_seeking_weight=1.0,
                 seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.image_shape = tuple(generator.output_shape[1:])
        self.mode_seeking_weight = mode_seeking_weight
        self.latent_seed = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "mode_seeking")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        """`optimizer` (and so the step count) is the generator's."""
        super().compile(optimizer=g_optimizer, **kwargs)
        self.d_optimizer = d_optimizer

    def build_optimizers(self):
        self.optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    # -------------------------------------------------------------- generator contract
    def sample_latents(self, n, seed):
        return tf.random.stateless_normal([n, self.latent_dim], seed=seed)

    def decode(self, latents, training=False):
        return tf.cast(self.generator(latents, training=training), tf.float32)

    def call(self, latents, training=False):
        return self.decode(latents, training)

    # -------------------------------------------------------------------- training
    def train_step(self, images):
        if isinstance(images, (tuple, list)):
            images = images[0]
        batch = tf.shape(images)[0]
        half = batch // 2
        # this replica's rows of the global batch's latents (the mode-seeking pairs are
        # the halves of each replica's own rows)
        latents = distribute.global_batch_rows(
            lambda rows: keras.random.normal((rows, self.latent_dim), seed=self.latent_seed),
            batch)

        with tf.GradientTape() as tape:
            fake = self.generator(latents, training=True)
            d_per_example = (_bce(1.0, self.discriminator(images, training=True))
                             + _bce(0.0, self.discriminator(fake, training=True)))
            d_loss = tf.nn.compute_average_loss(d_per_example)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

        with tf.GradientTape() as tape:
            fake = tf.cast(self.generator(latents, training=True), tf.float32)
            adversarial = _bce(1.0, self.discriminator(fake, training=True))
            mode_seeking = mode_seeking_term(latents[:half], latents[half:2 * half],
                                             fake[:half], fake[half:2 * half])
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            g_loss = (tf.nn.compute_average_loss(adversarial)
                      + self.mode_seeking_weight * mode_seeking / replicas)
        g_vars = self.generator.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))

        self.trackers["d_loss"].update_state(d_per_example)
        self.trackers["g_loss"].update_state(adversarial)
        self.trackers["mode_seeking"].update_state(mode_seeking)
        return {name: t.result() for name, t in self.trackers.items()}


def omniglot_msgan(image_shape=(28, 28, 1), latent_dim=128, mode_seeking_weight=1.0, seed=0):
    return MSGAN(omniglot_generator(latent_dim, image_shape[-1], image_shape[0]),
                 omniglot_discriminator(image_shape), latent_dim, mode_seeking_weight, seed,
                 name="msgan")


def build_from_config(config, image_shape):
    """The registry's builder: the paper's MSGAN, two Adams(generator.lr, beta_1 0.5)."""
    g = config.generator
    if g.mixed_bfloat16:  # measured for the GAN step only
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = omniglot_msgan(tuple(image_shape), g.latent_dim, g.mode_seeking_weight,
                                     seed=config.seed)
        model.compile(g_optimizer=keras.optimizers.Adam(g.lr, beta_1=0.5),
                      d_optimizer=keras.optimizers.Adam(g.lr, beta_1=0.5),
                      jit_compile=bool(g.jit_compile))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model
