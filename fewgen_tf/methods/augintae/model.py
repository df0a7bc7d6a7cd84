"""AugIntAE: augmentation-interpolative autoencoders (section 4, appendix A.1), with the
paper's AE and IntAE baselines as options of the same model (`AugIntAE`'s variants).

Latents are L2-normalised; interpolation is SLERP (`slerp`). Training (Eq. 1): for each
image x draw two augmentation parameter sets rho1, rho2 and alpha = the mean of two
uniform draws (biased to the midpoint, A.1); A = x(rho1), B = x(rho2) and
C = x(alpha*rho1 + (1-alpha)*rho2), so alpha = 1 gives C = A. Per image

  L_recon = |C - G(slerp(E(A), E(B), alpha))|_1                           (Eq. 1)
  L_AE    = L_recon + k * gamma * L_adv                                   (Eq. 2)
  gamma   = ||grad L_recon|| / ||grad L_adv||                             (Eq. 3)
  k_0 = 1;  k <- clip(k - 0.001 * (1 - (D(real) - D(fake))), 0, 1)        (Eq. 4-6)

with an LSGAN discriminator D (the encoder's architecture, one output) and LSGAN targets
(a, b, c) (`targets`, Mao et al. 2017): D minimises 0.5 (D(real) - b)^2 + 0.5 (D(fake) - a)^2,
the generator's L_adv = 0.5 (D(fake) - c)^2. The paper does not give its targets. The
default (a, b, c) = (-1, 1, 0) lets a confident D separate real from fake by up to
b - a = 2, so Eq. 5 can raise k again once D separates by more than 1, as the paper
describes; with (0, 1, 1) the best separation IS 1, k can only fall, and the adversarial
term switches itself off (benchmarks/RESULTS.md, section "AugIntAE with LSGAN targets").
|.|_1 is the per-image MEAN absolute pixel error (only its scale differs from the sum;
gamma makes the adversarial part follow it).
"""

import keras
import tensorflow as tf

from fewgen_tf import distribute, seeds
from fewgen_tf.tensor_adam import adam_init, adam_step
from fewgen_tf.data import augment
from fewgen_tf.methods.augintae import config as augintae_config
from fewgen_tf.nets import infogan_dcgan

VARIANTS = augintae_config.AUGINTAE_VARIANTS  # (declared with augintae.*)
DOT_LIMIT = 1.0 - 1e-6   # the SLERP dot product is clipped to [-DOT_LIMIT, DOT_LIMIT]
SMALL_ANGLE = 1e-3       # radians; below it SLERP falls back to linear interpolation
GAMMA_EPS = 1e-12        # keeps gamma finite where the adversarial gradient vanishes
K_RATE = 0.001           # Eq. 5
LSGAN_TARGETS = augintae_config.LSGAN_TARGETS  # (fake, real, generator's): the module doc


# --------------------------------------------------------------------- the maths, small
def normalize(z):
    """Project latents [B, d] onto the unit sphere (L2 along the last axis)."""
    return tf.math.l2_normalize(z, axis=-1, epsilon=1e-12)


def slerp(a, b, alpha):
    """Spherical interpolation of unit vectors a, b [B, d] with weight `alpha` (scalar or
    [B]) ON a (Eq. 1's convention: alpha = 1 gives a, alpha = 0 gives b):

      omega = arccos(clip(a.b, -DOT_LIMIT, DOT_LIMIT))
      slerp = sin(alpha omega)/sin(omega) a + sin((1-alpha) omega)/sin(omega) b

    falling back to alpha a + (1-alpha) b where omega < SMALL_ANGLE (where the ratio
    of sines is 0/0 in float32), and re-normalised. The clip keeps arccos and its
    gradient finite; for antipodal a, b the path is then one of the many great circles.
    Both branches are computed with safe denominators, so gradients never see a NaN."""
    a, b = tf.convert_to_tensor(a, tf.float32), tf.convert_to_tensor(b, tf.float32)
    alpha = tf.cast(alpha, tf.float32)
    alpha = tf.reshape(alpha, [-1, 1]) if alpha.shape.rank else alpha
    dot = tf.clip_by_value(tf.reduce_sum(a * b, -1, keepdims=True), -DOT_LIMIT, DOT_LIMIT)
    omega = tf.acos(dot)
    small = omega < SMALL_ANGLE
    sin_omega = tf.where(small, tf.ones_like(omega), tf.sin(omega))
    spherical = (tf.sin(alpha * omega) * a + tf.sin((1.0 - alpha) * omega) * b) / sin_omega
    linear = alpha * a + (1.0 - alpha) * b
    return normalize(tf.where(small, linear, spherical))


def update_k(k, d_real, d_fake, rate=K_RATE):
    """Eq. 5-6: k - rate * (1 - (mean D(real) - mean D(fake))), clipped to [0, 1].
    `d_real`, `d_fake`: the discriminator's mean scores on the step's real and fake
    images. k falls while D separates real from fake by less than 1 on average."""
    return tf.clip_by_value(k - rate * (1.0 - (d_real - d_fake)), 0.0, 1.0)


def _per_image_norm(gradient):
    return tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=tf.range(1, tf.rank(gradient))))


def adversarial_scale(recon_gradient, adv_gradient):
    """Eq. 3 per image: gamma_i = ||dL_recon/dx_i||_2 / ||dL_adv/dx_i||_2, where x_i is
    the i-th GENERATED image: both gradients are taken with respect to the generator's
    output pixels (not the parameters: a per-image parameter gradient would cost one
    backward pass per image). `recon_gradient` is [B, ...] and `adv_gradient`
    [M*B, ...]: output m*B + i is scaled by seed image i's reconstruction gradient
    (M = 2 for IntAE's reconstructions + interpolations). Returns gamma [M*B]."""
    recon_norm = _per_image_norm(recon_gradient)
    adv_norm = _per_image_norm(adv_gradient)
    reps = tf.shape(adv_norm)[0] // tf.shape(recon_norm)[0]
    return tf.tile(recon_norm, [reps]) / (adv_norm + GAMMA_EPS)


def sample_alpha(batch_size, seed):
    """alpha per image: the mean of two uniform draws on [0, 1] (A.1), [batch_size]."""
    u = tf.random.stateless_uniform([2, batch_size], seed, dtype=tf.float32, alg="philox")
    return tf.reduce_mean(u, axis=0)


def augmentation_triplet(images, rho1, rho2, alpha, fill="white"):
    """(A, B, C) = images under rho1, rho2 and alpha*rho1 + (1-alpha)*rho2 (Eq. 1)."""
    rho_c = augment.interpolate_parameters(rho1, rho2, alpha)
    return (augment.apply(images, rho1, fill), augment.apply(images, rho2, fill),
            augment.apply(images, rho_c, fill))


def sample_triplet(images, ranges, seed):
    """Two parameter sets and alpha drawn per image from the stateless `seed` [2]:
    (A, B, C, alpha)."""
    seed = tf.cast(seed, tf.int64)
    batch = tf.shape(images)[0]
    rho1 = augment.sample_parameters(ranges, batch, tf.random.experimental.stateless_fold_in(seed, 1))
    rho2 = augment.sample_parameters(ranges, batch, tf.random.experimental.stateless_fold_in(seed, 2))
    alpha = sample_alpha(batch, tf.random.experimental.stateless_fold_in(seed, 3))
    return augmentation_triplet(images, rho1, rho2, alpha, ranges.fill) + (alpha,)


def _l1_per_image(target, output):
    return tf.reduce_mean(tf.abs(target - output), axis=[1, 2, 3])


def _lsgan(scores, target):
    return 0.5 * tf.square(tf.reshape(tf.cast(scores, tf.float32), [-1]) - target)


# ----------------------------------------------------------------------------- the model
class AugIntAE(keras.Model):
    """E, G and (when adversarial) D; `variant` (`augintae.variant`) picks the training
    loss. Same networks, same data: every variant trains on the interpolated image C as
    its training image (A.1, "to ensure that our baselines are trained on the same data
    distribution"):
      augintae  the module doc's: real = C, fake = G(slerp(E(A), E(B), alpha)).
      ae        L = |C - G(E(C))|_1 + k gamma L_adv(G(E(C))): real = C, fake = G(E(C)).
      intae     seeds are reconstructed, interpolations only see the GAN (section 5):
                the batch's C_i is paired with C_{i+1} (a different image);
                L = |C - G(E(C))|_1 + k gamma [L_adv(G(E(C)))
                                               + L_adv(G(slerp(E(C_i), E(C_{i+1}), alpha)))].
                An interpolation has no reconstruction gradient of its own: its gamma
                uses its first seed's reconstruction gradient norm.
    Without a discriminator the k gamma L_adv term is dropped (a plain interpolative AE,
    `adversarial=False`); the registry then gives it the paper's learning-rate cuts
    (x0.1 at 35% and 70% of training)."""

    def __init__(self, encoder, generator, discriminator=None, variant="augintae",
                 ranges=None, seed=0, targets=LSGAN_TARGETS, **kwargs):
        super().__init__(**kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"unknown AugIntAE variant {variant!r}; valid: {', '.join(VARIANTS)}")
        self.encoder, self.generator, self.discriminator = encoder, generator, discriminator
        self.variant = variant
        self.targets = augintae_config.check_lsgan_targets(targets)
        self.adversarial = discriminator is not None
        self.ranges = ranges or augment.AugmentationRanges.characters()
        self.latent_dim = int(encoder.output_shape[-1])
        self.image_shape = tuple(encoder.input_shape[1:])
        self.noise = keras.random.SeedGenerator(seed)
        self.refine_steps, self.refine_lr = 0, 0.05  # seed_codes (build_from_config sets)
        self.adapt_steps, self.adapt_lr = 0, 1e-4    # adapted_generator (build_from_config sets)
        # k of Eq. 4-6; "mean" so that replicas' updates average under a strategy.
        self.k = self.add_weight(shape=(), initializer="ones", trainable=False,
                                 aggregation="mean", name="k")
        names = ["loss", "reconstruction"] + (["adversarial", "d_loss", "k", "gamma",
                                               "d_real", "d_fake"]
                                              if self.adversarial else [])
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, optimizer, d_optimizer=None, **kwargs):
        """`optimizer` (E and G; its step count is the run's) and D's `d_optimizer`."""
        super().compile(optimizer=optimizer, **kwargs)
        self.d_optimizer = d_optimizer

    def build_optimizers(self):
        self.optimizer.build(self.autoencoder_variables)
        if self.adversarial:
            self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def autoencoder_variables(self):
        return self.encoder.trainable_variables + self.generator.trainable_variables

    # -------------------------------------------------------------- generator contract
    def sample_latents(self, n, seed):
        """Uniform on the unit sphere: normalised standard normals."""
        return normalize(tf.random.stateless_normal([n, self.latent_dim], seed=seed))

    def encode(self, images, training=False):
        return normalize(self.encoder(images, training=training))

    def decode(self, latents, training=False):
        """G of the latents projected onto the unit sphere (LASIUM's strategies step off
        it), images in [0, 1]."""
        return tf.cast(self.generator(normalize(tf.cast(latents, tf.float32)),
                                      training=training), tf.float32)

    def call(self, images, training=False):
        return self.decode(self.encode(images, training), training)

    # ---------------------------------------------------------- few-shot generation
    def seed_codes(self, seed_images):
        """The seeds' latent codes: E(seeds), then (`refine_steps` > 0) that many Adam
        steps (`refine_lr`) on the codes, kept on the unit sphere, lowering the mean
        |G(z) - seed|: the decoder's closest drawing of each seed, which the encoder's
        single guess misses on novel classes (the paper's related work names such
        latent optimisation; section 4's generation only says "find their latent space
        embeddings"). Inference-mode networks, so each code answers to its own seed
        only; the weights never change."""
        images = tf.convert_to_tensor(seed_images, tf.float32)
        codes = self.encode(images)
        if self.refine_steps <= 0:
            return codes

        def step(i, z, state):  # (tensor_adam: Keras' Adam on the codes)
            with tf.GradientTape() as tape:
                tape.watch(z)
                loss = tf.reduce_mean(tf.abs(self.decode(z) - images))
            z, state = adam_step(z, tape.gradient(loss, z), state, self.refine_lr)
            return i + 1, normalize(z), state

        _, codes, _ = tf.while_loop(lambda i, *_: i < self.refine_steps, step,
                                    (tf.constant(0), codes, adam_init(codes)))
        return tf.stop_gradient(codes)

    def adapted_generator(self, codes, seed_images):
        """G's weights fitted to the seeds: `adapt_steps` Adam steps (`adapt_lr`) on G's
        trainable weights lowering the mean |G(z_i) - seed_i| with the seeds' codes z_i
        held fixed (inference-mode G, its BatchNorm statistics unchanged), on a copy:
        the model's own weights never change. Returns the weights (a list of tensors in
        `generator.trainable_variables` order), or None when `adapt_steps` is 0.

        Why (issue 23): on novel characters the decoder's redrawing of a seed is what
        loses the character (the evaluation network names 0.83 of the seeds but 0.15 of
        their reconstructions at 10 passes, benchmarks/RESULTS.md): refining only the
        codes cannot add the marks G has never drawn. A few steps on G itself, the
        test-time adaptation that Meta-FAVAE / FIGR build in, let it draw the seeds'
        marks; slerp between two adapted codes then interpolates with them. Not in the
        AugIntAE paper, whose generation is the encoder's codes (adapt_steps = 0)."""
        if self.adapt_steps <= 0:
            return None
        images = tf.convert_to_tensor(seed_images, tf.float32)
        codes = normalize(tf.stop_gradient(codes))
        fixed = [tf.identity(v) for v in self.generator.non_trainable_variables]

        def step(i, weights, state):  # (tensor_adam: Keras' Adam on a copy of G's weights)
            with tf.GradientTape() as tape:
                tape.watch(weights)
                outputs, _ = self.generator.stateless_call(weights, fixed, codes,
                                                           training=False)
                loss = tf.reduce_mean(tf.abs(tf.cast(outputs, tf.float32) - images))
            weights, state = adam_step(weights, tape.gradient(loss, weights), state,
                                       self.adapt_lr)
            return i + 1, weights, state

        weights = [tf.identity(w) for w in self.generator.trainable_variables]
        _, weights, _ = tf.while_loop(lambda i, *_: i < self.adapt_steps, step,
                                      (tf.constant(0), weights, adam_init(weights)))
        return [tf.stop_gradient(w) for w in weights]

    def decode_with(self, weights, latents):
        """`decode` with G's trainable weights replaced by `weights` (None: G's own)."""
        if weights is None:
            return self.decode(latents)
        outputs, _ = self.generator.stateless_call(
            weights, [tf.identity(v) for v in self.generator.non_trainable_variables],
            normalize(tf.cast(latents, tf.float32)), training=False)
        return tf.cast(outputs, tf.float32)

    def generate(self, seed_images, num_images, seed):
        """`num_images` images of the seeds' class (section 4, "Few-shot generation"):
        for each, a random ordered pair of distinct seeds and alpha (the training
        distribution, mean of two uniforms), decoded from slerp(z1, z2, alpha) of the
        seeds' codes (`seed_codes`: E(s), refined when `refine_steps` > 0), by G
        (adapted to the seeds when `adapt_steps` > 0: `adapted_generator`).
        With one seed, its code is interpolated with the codes of its own augmentations
        (parameters from the training ranges). Stateless in `seed`: deterministic."""
        seed_images = tf.convert_to_tensor(seed_images, tf.float32)
        num_images = tf.cast(num_images, tf.int32)
        seed_pair = seeds.seed_pair(seed)
        fold = seeds.fold
        count = tf.shape(seed_images)[0]
        codes = self.seed_codes(seed_images)
        first = tf.random.stateless_uniform([num_images], fold(seed_pair, 1), 0, count,
                                            dtype=tf.int32)
        alpha = sample_alpha(num_images, fold(seed_pair, 3))

        def other_seeds():
            offset = tf.random.stateless_uniform([num_images], fold(seed_pair, 2), 1,
                                                 tf.maximum(count, 2), dtype=tf.int32)
            return tf.gather(codes, tf.math.floormod(first + offset, count))

        def own_augmentations():
            images = tf.gather(seed_images, first)
            params = augment.sample_parameters(self.ranges, num_images, fold(seed_pair, 4))
            return self.encode(augment.apply(images, params, self.ranges.fill))

        partners = tf.cond(count > 1, other_seeds, own_augmentations)
        weights = self.adapted_generator(codes, seed_images)
        return self.decode_with(weights, slerp(tf.gather(codes, first), partners, alpha))

    def interpolate(self, image_a, image_b, steps):
        """Decoded SLERP path from image_a (alpha = 1) to image_b (alpha = 0): [steps, H, W, C]."""
        codes = self.encode(tf.stack([image_a, image_b]))
        alpha = tf.linspace(1.0, 0.0, steps)
        a = tf.repeat(codes[:1], steps, axis=0)
        b = tf.repeat(codes[1:], steps, axis=0)
        return self.decode(slerp(a, b, alpha))

    # -------------------------------------------------------------------- training
    def training_images(self, images, seed):
        """(outputs, C): the variant's forward pass of E and G on one batch (the caller's
        tape records it). C is the reconstruction target of the first B outputs and the
        discriminator's real batch; IntAE's outputs B..2B-1 are its interpolations."""
        a, b, c, alpha = sample_triplet(images, self.ranges, seed)
        if self.variant == "augintae":  # A and B through E together: one batch for BN
            z_a, z_b = tf.split(self.encode(tf.concat([a, b], 0), True), 2, axis=0)
            latents = slerp(z_a, z_b, alpha)
        elif self.variant == "ae":
            latents = self.encode(c, True)
        else:  # intae: reconstructions of C, then interpolations between C_i and C_{i+1}
            z = self.encode(c, True)
            latents = tf.concat([z, slerp(z, tf.roll(z, shift=-1, axis=0), alpha)], 0)
        return self.decode(latents, training=True), c

    def train_step(self, images):
        """One step of Eq. 1-6 on E+G and D together (one forward of each network).

        The losses are differentiated with respect to the generated images first: the
        reconstruction gradient g_rec and the adversarial gradient g_adv of every output
        pixel. gamma (Eq. 3) is the ratio of their per-image L2 norms, and the gradient
        sent back through G and E is g_rec + k * gamma * g_adv (Eq. 2), so each image's
        adversarial push has exactly its reconstruction push's magnitude (times k).
        D descends its LSGAN loss on the same forward pass; then k follows Eq. 5-6."""
        if isinstance(images, (tuple, list)):
            images = images[0]  # labels, if any, are never used
        images = tf.convert_to_tensor(images, tf.float32)
        batch = tf.shape(images)[0]
        seed = distribute.replica_seed(  # (replicas draw apart; single device unchanged)
            keras.random.randint([2], 0, 2 ** 30, seed=self.noise, dtype="int32"))
        with tf.GradientTape() as tape:  # E and G forward
            outputs, real = self.training_images(images, seed)
        with tf.GradientTape(persistent=True) as inner:  # the losses of the outputs
            inner.watch(outputs)
            recon = _l1_per_image(real, outputs[:batch])
            recon_loss = tf.nn.compute_average_loss(recon)
            if self.adversarial:
                d_real = self.discriminator(real, training=True)
                d_fake = self.discriminator(outputs, training=True)
                fake_target, real_target, generator_target = self.targets
                adv = _lsgan(d_fake, generator_target)  # the generator's L_adv per output
                adv_loss = tf.nn.compute_average_loss(adv)
                d_real_loss, d_fake_loss = _lsgan(d_real, real_target), _lsgan(d_fake, fake_target)
                d_loss = (tf.nn.compute_average_loss(d_real_loss)
                          + tf.nn.compute_average_loss(d_fake_loss))
        output_gradient = inner.gradient(recon_loss, outputs)
        if self.adversarial:
            recon_gradient = output_gradient[:batch]
            adv_gradient = inner.gradient(adv_loss, outputs)
            gamma = tf.stop_gradient(adversarial_scale(recon_gradient, adv_gradient))
            scale = tf.reshape(self.k * gamma, [-1, 1, 1, 1])
            output_gradient = output_gradient + scale * adv_gradient  # Eq. 2 at the pixels
            d_vars = self.discriminator.trainable_variables
            d_grads = inner.gradient(d_loss, d_vars)
        del inner
        variables = self.autoencoder_variables
        grads = tape.gradient(outputs, variables, output_gradients=output_gradient)
        self.optimizer.apply_gradients(zip(grads, variables))
        loss = recon
        if self.adversarial:
            self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
            # per seed image: L_recon + k * gamma * L_adv over its outputs (Eq. 2)
            loss = recon + self.k * tf.reduce_sum(tf.reshape(gamma * adv, [-1, batch]), 0)
            mean_real = tf.reduce_mean(tf.cast(d_real, tf.float32))
            mean_fake = tf.reduce_mean(tf.cast(d_fake, tf.float32))
            self.k.assign(update_k(self.k, mean_real, mean_fake))
            self.trackers["adversarial"].update_state(adv)
            self.trackers["d_loss"].update_state(tf.reduce_mean(d_real_loss)
                                                + tf.reduce_mean(d_fake_loss))
            self.trackers["d_real"].update_state(mean_real)
            self.trackers["d_fake"].update_state(mean_fake)
            self.trackers["k"].update_state(self.k)
            self.trackers["gamma"].update_state(gamma)
        self.trackers["loss"].update_state(loss)
        self.trackers["reconstruction"].update_state(recon)
        return {name: t.result() for name, t in self.trackers.items()}


def build_augintae(image_shape, latent_dim=32, variant="augintae", architecture="auto",
                   width=1.0, adversarial=True, ranges=None, seed=0, targets=LSGAN_TARGETS):
    """The paper's networks for `image_shape` (ConfigError for a shape or latent size
    they cannot take)."""
    image_shape = tuple(int(s) for s in image_shape)
    architecture = infogan_dcgan.resolve_architecture(architecture, image_shape,
                                                      "augintae.architecture")
    infogan_dcgan.check_shapes(architecture, image_shape, latent_dim, "AugIntAE")
    encoder = infogan_dcgan.encoder_network(architecture, image_shape, latent_dim, width)
    generator = infogan_dcgan.generator_network(architecture, image_shape, latent_dim, width)
    discriminator = (infogan_dcgan.encoder_network(architecture, image_shape, 1, width,
                                                   name="discriminator")
                     if adversarial else None)
    return AugIntAE(encoder, generator, discriminator, variant, ranges, seed, targets,
                    name=variant)


def learning_rate(base, total_steps, cut):
    """`base`, or cut x0.1 at 35% and 70% of `total_steps` when `cut` (appendix A.1's
    schedule for the models without a discriminator)."""
    if not cut:
        return base
    # A model built only to be restored (total_steps None: generator.from_workdir) keeps
    # the schedule object all the same: Adam tracks a learning-rate variable for a float
    # and none for a schedule, and the checkpoint's variables must line up.
    total_steps = total_steps or 100
    cuts = [max(1, int(0.35 * total_steps)), max(2, int(0.7 * total_steps))]
    return keras.optimizers.schedules.PiecewiseConstantDecay(cuts, [base, base / 10,
                                                                    base / 100])


def build_from_config(config, image_shape, total_steps=None):
    """AugIntAE / AE / IntAE (`augintae.variant`): one entry, because the three are one
    model class with the same networks and `generator.*` keys, differing only in the loss.
    Adam(generator.lr) for E+G and for D. `augintae.lr_schedule`: `paper` (appendix A.1:
    without the discriminator the E+G rate is cut x0.1 at 35% and 70% of `total_steps`,
    with it both rates stay constant), `cuts` (those cuts for E+G and D alike, whatever
    the variant), `constant`."""
    g, options = config.generator, config.augintae
    adversarial = bool(options.adversarial)
    ranges = (augment.AugmentationRanges.from_config(config.augment) if "augment" in config
              else augment.AugmentationRanges.characters() if image_shape[-1] == 1
              else augment.AugmentationRanges.natural())
    model = build_augintae(
        image_shape, g.latent_dim, options.variant, options.architecture,
        float(options.width), adversarial, ranges, seed=config.seed,
        targets=tuple(options.lsgan_targets))
    model.refine_steps = int(options.refine_steps)
    model.refine_lr = float(options.refine_lr)
    model.adapt_steps = int(options.adapt_steps)
    model.adapt_lr = float(options.adapt_lr)
    schedule = options.lr_schedule
    cut = schedule == "cuts" or (schedule == "paper" and not adversarial)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(g.lr, total_steps, cut)),
                  d_optimizer=(keras.optimizers.Adam(learning_rate(g.lr, total_steps, cut))
                               if adversarial else None),
                  jit_compile=False)  # (the augmentation's affine transform has no XLA kernel)
    return model
