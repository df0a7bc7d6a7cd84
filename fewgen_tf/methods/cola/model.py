"""COLA / sCOLA / GLO: a generator trained with one learnable latent code per training
image (paper section 3, Algorithm 1, B.2), then a Gaussian per cluster of the codes.

Step II. Image i has the code z_i = (t_i/|t_i|, v_i/|v_i|) in R^(K+d): t_i its class
part (COLA: its step-I target; sCOLA: the one-hot label; GLO: a random N(0, I_K) vector),
v_i ~ N(0, sigma I_d) its variation part. The codes (`codes`, trainable) and G
(generator_nets.py) are optimised jointly (Eq. 3), min 1/N sum_i L_rec(G(z_i), x_i)
(losses.py), by two Adams; both parts of every code are re-projected to the unit spheres
in the train step that ends an epoch, so checkpoints hold projected codes. Step III
(mixtures.py) fits the mixture that this model stores (Cholesky factors, or PPCA factors
with `mixture_rank` > 0) and samples from: a component by the mixture weights, then
z = mu_c + L_c eps.

Contract: `latent_dim` (= K + d), `sample_latents(n, seed)`, `decode(z)`,
`sample_class(class_index, num_images, seed)` (class = cluster, or label for sCOLA).
"""

import keras
import numpy as np
import tensorflow as tf

from fewgen_tf import seeds
from fewgen_tf.data import rng
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.cola import config as cola_config
from fewgen_tf.methods.cola import generator_nets, mixtures


# ------------------------------------------------------------------------ codes
def normalize_parts(codes, num_clusters: int):
    """Each code's class part [:K] and variation part [K:] projected to unit length."""
    t, v = codes[..., :num_clusters], codes[..., num_clusters:]
    return tf.concat([tf.math.l2_normalize(t, -1, epsilon=1e-12),
                      tf.math.l2_normalize(v, -1, epsilon=1e-12)], -1)


def initial_codes(class_parts, noise_dim: int, sigma: float = 1.0, seed: int = 0):
    """z_i = (t_i/|t_i|, v_i/|v_i|), v_i ~ N(0, sigma I_d) (Algorithm 1), [N, K+d]."""
    t = np.asarray(class_parts, np.float64)
    v = np.sqrt(sigma) * rng.normal(rng.derive_key("cola-codes", int(seed)),
                                    (len(t), int(noise_dim)))
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.concatenate([t, v], 1).astype(np.float32)


def random_class_parts(num_images: int, num_clusters: int, seed: int):
    """GLO: t_i ~ N(0, I_K), no cluster structure."""
    return rng.normal(rng.derive_key("glo-codes", int(seed)), (num_images, num_clusters))


# ------------------------------------------------------------------------- model
# The fitted mixture keeps a full [K, K+d, K+d] Cholesky factor (step III fits full
# covariances, float64 while fitting): cubic in K, so K ~ 1000 needs tens of GiB, unless
# `mixture_rank` > 0 stores [K, r, K+d] factors (module doc).
MAX_MIXTURE_BYTES = 2 * 2**30


def mixture_bytes(num_clusters: int, latent_dim: int, mixture_rank: int = 0) -> int:
    """float32 bytes of the stored mixture's covariance part."""
    k, d, r = int(num_clusters), int(latent_dim), int(mixture_rank)
    return 4 * k * d * d if r == 0 else 4 * k * (r * d + 1)


class COLA(keras.Model):
    """G, the learnt codes (when training) and the fitted mixture (module doc)."""

    def __init__(self, generator, num_clusters, codes=None, loss_fn=None,
                 steps_per_epoch=1, mixture_rank=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.num_clusters = int(num_clusters)
        self.latent_dim = int(generator.input_shape[-1])
        self.noise_dim = self.latent_dim - self.num_clusters
        self.image_shape = tuple(generator.output_shape[1:])
        self.loss_fn, self.steps_per_epoch = loss_fn, int(steps_per_epoch)
        d, k = self.latent_dim, self.num_clusters
        cola_config.check_cola_value("cola.mixture_rank", mixture_rank)
        self.mixture_rank = int(mixture_rank)
        size = mixture_bytes(k, d, self.mixture_rank)
        if size > MAX_MIXTURE_BYTES:
            store = (f"a full covariance per cluster, {k} x {d} x {d} floats"
                     if self.mixture_rank == 0 else
                     f"{k} x {self.mixture_rank} x {d} floats (cola.mixture_rank)")
            raise ConfigError(
                f"cola.num_clusters={k} with codes of {d} entries (K + d) needs {store} = "
                f"{size / 2**30:.1f} GiB (more while fitting); the limit is "
                f"{MAX_MIXTURE_BYTES / 2**30:.0f} GiB: set cola.mixture_rank (e.g. 32: "
                "exact for clusters of <= 33 codes), or lower cola.num_clusters or "
                "generator.latent_dim")
        self.codes = None
        if codes is not None:
            codes = np.asarray(codes, np.float32)
            if codes.shape[1] != d:
                raise ConfigError(f"codes have {codes.shape[1]} entries, the generator takes {d}")
            self.codes = self.add_weight(shape=codes.shape, name="codes",
                                         initializer=keras.initializers.Constant(codes))
        self.mixture_log_weights = self.add_weight(
            shape=(k,), trainable=False, name="mixture_log_weights",
            initializer=keras.initializers.Constant(-np.log(k)))
        self.mixture_means = self.add_weight(shape=(k, d), trainable=False, initializer="zeros",
                                             name="mixture_means")
        if self.mixture_rank == 0:  # L_c (module doc); identity until step III
            self.mixture_scale_tril = self.add_weight(
                shape=(k, d, d), trainable=False, name="mixture_scale_tril",
                initializer=keras.initializers.Constant(np.tile(np.eye(d), (k, 1, 1))))
        else:  # W_c and s_c; N(mu_c, I) until step III
            self.mixture_factors = self.add_weight(
                shape=(k, self.mixture_rank, d), trainable=False, initializer="zeros",
                name="mixture_factors")
            self.mixture_noise_scale = self.add_weight(
                shape=(k,), trainable=False, initializer="ones", name="mixture_noise_scale")
        self.trackers = {"loss": keras.metrics.Mean(name="loss")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, optimizer, code_optimizer=None, **kwargs):
        """`optimizer`: G's (its step count is the run's); `code_optimizer`: the codes'."""
        super().compile(optimizer=optimizer, **kwargs)
        self.code_optimizer = code_optimizer

    def build_optimizers(self):
        self.optimizer.build(self.generator.trainable_variables)
        self.code_optimizer.build([self.codes])

    # ------------------------------------------------------------------- step II
    def project_codes(self):
        """Algorithm 1's per-epoch normalisation of both parts of every code."""
        self.codes.assign(normalize_parts(self.codes, self.num_clusters))

    def train_step(self, data):
        indices, images = data
        indices = tf.cast(indices, tf.int32)
        images = tf.convert_to_tensor(images, tf.float32)
        with tf.GradientTape() as tape:
            codes = tf.gather(self.codes, indices)
            output = self.generator(codes, training=True)
            per_image = self.loss_fn(images, tf.cast(output, tf.float32))
            loss = tf.nn.compute_average_loss(per_image)
        g_vars = self.generator.trainable_variables
        grads = tape.gradient(loss, g_vars + [self.codes])
        self.optimizer.apply_gradients(zip(grads[:-1], g_vars))
        self.code_optimizer.apply_gradients([(tf.convert_to_tensor(grads[-1]), self.codes)])
        end_of_epoch = tf.equal(self.optimizer.iterations % self.steps_per_epoch, 0)
        tf.cond(end_of_epoch, lambda: self.project_codes() or tf.constant(True),
                lambda: tf.constant(False))
        self.trackers["loss"].update_state(per_image)
        return {name: t.result() for name, t in self.trackers.items()}

    # ------------------------------------------------------------------ step III
    def set_mixture(self, means, covariances, weights=None):
        """Store a fitted mixture of full covariances: their Cholesky factors, or in the
        low-rank store (`mixture_rank` > 0) their PPCA factors."""
        if self.mixture_rank:
            factors, scales = mixtures.low_rank_from_covariances(covariances,
                                                                 self.mixture_rank)
            self.set_low_rank_mixture(means, factors, scales, weights)
            return
        self.mixture_means.assign(np.asarray(means, np.float32))
        scale_tril = np.linalg.cholesky(np.asarray(covariances, np.float64))
        self.mixture_scale_tril.assign(scale_tril.astype(np.float32))
        self._set_weights(weights)

    def set_low_rank_mixture(self, means, factors, noise_scales, weights=None):
        """Store a mixture in the low-rank store (`fit_cluster_gaussians_low_rank`)."""
        if not self.mixture_rank:
            raise ValueError("set_low_rank_mixture needs a model built with mixture_rank > 0")
        self.mixture_means.assign(np.asarray(means, np.float32))
        self.mixture_factors.assign(np.asarray(factors, np.float32))
        self.mixture_noise_scale.assign(np.asarray(noise_scales, np.float32))
        self._set_weights(weights)

    def _set_weights(self, weights):
        k = self.num_clusters
        weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64)
        self.mixture_log_weights.assign(np.log(np.maximum(weights, 1e-30)).astype(np.float32))

    def component_latents(self, components, seed):
        """z = mu_c + L_c eps (low-rank store: mu_c + W_c^T e + s_c eps) for each entry
        of `components` [n] (stateless in `seed`)."""
        components = tf.cast(components, tf.int32)
        n = tf.shape(components)[0]
        pair = seeds.seed_pair(seed)
        eps = tf.random.stateless_normal(tf.stack([n, self.latent_dim]), pair, alg="philox")
        means = tf.gather(self.mixture_means, components)
        if self.mixture_rank == 0:
            scale = tf.gather(self.mixture_scale_tril, components)
            return means + tf.einsum("nij,nj->ni", scale, eps)
        e = tf.random.stateless_normal(tf.stack([n, self.mixture_rank]),
                                       tf.random.experimental.stateless_fold_in(pair, 1),
                                       alg="philox")
        factors = tf.gather(self.mixture_factors, components)
        scales = tf.gather(self.mixture_noise_scale, components)[:, None]
        return means + tf.einsum("nrd,nr->nd", factors, e) + scales * eps

    # ---------------------------------------------------------------- contract
    def sample_latents(self, n, seed):
        """Latents from the fitted mixture: a component by the mixture weights, then its
        Gaussian."""
        pair = seeds.seed_pair(seed)
        fold = tf.random.experimental.stateless_fold_in
        components = tf.random.stateless_categorical(self.mixture_log_weights[None], n,
                                                     fold(pair, 1), dtype=tf.int32)[0]
        return self.component_latents(components, fold(pair, 2))

    def decode(self, latents, training=False):
        return tf.cast(self.generator(tf.cast(latents, tf.float32), training=training),
                       tf.float32)

    def sample_class(self, class_index, num_images, seed):
        """`num_images` images from cluster (sCOLA: class) `class_index`'s Gaussian."""
        tf.debugging.assert_less(tf.cast(class_index, tf.int32), self.num_clusters,
                                 message=f"class_index must be < {self.num_clusters}")
        tf.debugging.assert_non_negative(tf.cast(class_index, tf.int32),
                                         message="class_index must be >= 0")
        components = tf.fill(tf.reshape(tf.cast(num_images, tf.int32), [1]),
                             tf.cast(class_index, tf.int32))
        fold = tf.random.experimental.stateless_fold_in
        return self.decode(self.component_latents(components, fold(seeds.seed_pair(seed), 3)))

    def call(self, latents, training=False):
        return self.decode(latents, training)


def build_cola(image_shape, num_clusters, noise_dim, architecture="infogan",
               conditional=False, width=1.0, codes=None, loss_fn=None, steps_per_epoch=1,
               seed=0, mixture_rank=0):
    """A COLA model for `image_shape`: latent K + d; with `codes` [N, K+d] it can train."""
    if not isinstance(noise_dim, int) or noise_dim < 1:
        raise ConfigError(f"generator.latent_dim (COLA's d) must be an int >= 1, got "
                          f"{noise_dim!r}")
    keras.utils.set_random_seed(seed)
    generator = generator_nets.generator_network(architecture, image_shape,
                                                 num_clusters + noise_dim, num_clusters,
                                                 conditional, width)
    return COLA(generator, num_clusters, codes, loss_fn, steps_per_epoch, mixture_rank,
                name="cola")


def build_from_config(config, image_shape):
    """COLA / sCOLA / GLO for sampling (G and the fitted mixture, no codes): trained in
    stages by the `cola` / `scola` pipelines (methods/cola/stages.py), reused through
    `generator.from_workdir` (e.g. as LASIUM's task source). Latent: K + d with
    K = cola.num_clusters and d = generator.latent_dim."""
    options = config.cola
    return build_cola(image_shape, int(options.num_clusters),
                           config.generator.latent_dim, options.architecture,
                           bool(options.conditional_bn),
                           float(options.width), seed=config.seed,
                           mixture_rank=options.mixture_rank)
