"""COLA / sCOLA / GLO: a generator trained with one learnable latent code per training
image (paper section 3, Algorithm 1, B.2), then a Gaussian per cluster of the codes.

Step II (Algorithm 1). Image i has the code z_i = (t_i/|t_i|, v_i/|v_i|) in R^(K+d):
t_i its class part (COLA: the step-I target, step1_clustering.py; sCOLA: the
one-hot label; GLO: a random N(0, I_K) vector, i.e. no clustering), v_i ~ N(0, sigma I_d)
its variation part. The codes (`codes`, [N, K+d], trainable) and the generator G are
optimised jointly (Eq. 3):
    min_{theta, Z} 1/N sum_i L_rec(G(z_i), x_i)   s.t. the two parts of z_i are unit,
Adam(0.01) on the codes and Adam(0.001) on G (the registry halves both every tenth of
training); after every epoch the two parts of every code are re-normalised to the unit
spheres of R^K and R^d (in the train step that ends the epoch, so checkpoints hold
projected codes). L_rec is fewgen_tf/methods/cola/losses.py's Laplacian-pyramid loss (Eq. 5), its
perceptual loss (Eq. 4) or L1.
Generators: `infogan` (InfoGAN's, the paper's small-sample choice; the same network as
AugIntAE's, nets/infogan_dcgan.py) and `residual` (DCGAN/CGAN-style residual
blocks with bilinear upsampling, `conditional_bn` for CGAN's conditional BatchNorm:
gamma = 1 + W_g t, beta = W_b t from the code's class part t, which for a one-hot t is
exactly a per-class scale and shift; paper Table 4-5).
Step III: one multivariate Gaussian per cluster fitted to the learnt codes
(`fit_cluster_gaussians`; GLO, without clusters, fits a K-component Gaussian mixture by
EM, `fit_gaussian_mixture`), covariances + `reg` I. Sampling draws a component from the
mixture weights (uniform for COLA / sCOLA) and z = mu_c + L_c eps, L_c L_c^T = Sigma_c.
A full covariance per cluster is K (K+d)^2 floats: cubic in K (K = 1200 characters,
d = 64: 7.1 GiB). `mixture_rank` r > 0 stores each Gaussian as W_c^T W_c + s_c^2 I
instead (probabilistic PCA, Tipping & Bishop 1999: the r leading principal directions
of the cluster's codes, the rest isotropic), K (r + 1)(K+d) floats, and samples
z = mu_c + W_c^T e + s_c eps. It is the same Gaussian as the full fit for every cluster
of at most r + 1 codes (its covariance has rank <= r), which is every cluster when K is
near the number of classes.

Contract: `latent_dim` (= K + d), `sample_latents(n, seed)`, `decode(z)`,
`sample_class(class_index, num_images, seed)` (class = cluster, or label for sCOLA).
"""

import keras
import numpy as np
import tensorflow as tf

from fewgen_tf import seeds
from fewgen_tf.data import rng
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.methods.cola import config as cola_config
from fewgen_tf.methods.cola.assignment import kmeans
from fewgen_tf.nets import infogan_dcgan

ARCHITECTURES = cola_config.ARCHITECTURES  # ("infogan", "residual"), declared with cola.*


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


# --------------------------------------------------------------------- step III
def fit_cluster_gaussians(codes, clusters, num_clusters: int, reg: float = 1e-4):
    """(means [K, D], covariances [K, D, D]): per cluster the mean and the covariance
    (ddof 1, as np.cov; 0 for a one-code cluster) plus reg * I. DataError for an empty
    cluster."""
    codes = np.asarray(codes, np.float64)
    clusters = np.asarray(clusters).ravel()
    means, covariances = [], []
    for c in range(num_clusters):
        points = codes[clusters == c]
        if len(points) == 0:
            raise DataError(f"cluster {c} holds no code: cannot fit its Gaussian")
        cov = (np.atleast_2d(np.cov(points, rowvar=False)) if len(points) > 1
               else np.zeros((codes.shape[1],) * 2))
        means.append(points.mean(0))
        covariances.append(cov + reg * np.eye(codes.shape[1]))
    return np.stack(means), np.stack(covariances)


def _principal_factors(eigenvalues, eigenvectors, rank, dim):
    """PPCA of one covariance from its eigenpairs (descending; the missing ones are 0):
    W [rank, dim] with rows sqrt(lambda_i - sigma2) u_i, and sigma2 the mean of the
    dim - rank eigenvalues left out, so that W^T W + sigma2 I keeps the leading
    eigenpairs and the total variance (Tipping & Bishop 1999, Eq. 7-8)."""
    lam = np.clip(np.asarray(eigenvalues, np.float64), 0.0, None)
    kept = min(rank, len(lam))
    sigma2 = float(lam[kept:].sum()) / (dim - rank) if dim > rank else 0.0
    factors = np.zeros((rank, dim))
    factors[:kept] = (np.sqrt(np.clip(lam[:kept] - sigma2, 0.0, None))[:, None]
                      * np.asarray(eigenvectors[:kept], np.float64))
    return factors, sigma2


def fit_cluster_gaussians_low_rank(codes, clusters, num_clusters: int, rank: int,
                                   reg: float = 1e-4):
    """`fit_cluster_gaussians` in the low-rank store (module doc): (means [K, D],
    factors [K, r, D], noise_scales [K]) with Sigma_c = W_c^T W_c + s_c^2 I, s_c^2 =
    sigma2_c + reg. From the SVD of each cluster's centred codes ([n_c, D]): no D x D
    matrix is ever formed. Equal to the full fit for a cluster of <= r + 1 codes."""
    codes = np.asarray(codes, np.float64)
    clusters = np.asarray(clusters).ravel()
    dim = codes.shape[1]
    means, factors, scales = [], [], []
    for c in range(num_clusters):
        points = codes[clusters == c]
        if len(points) == 0:
            raise DataError(f"cluster {c} holds no code: cannot fit its Gaussian")
        mean = points.mean(0)
        if len(points) > 1:  # eigenpairs of np.cov (ddof 1) from the SVD
            _, singular, directions = np.linalg.svd(points - mean, full_matrices=False)
            eigenvalues = singular ** 2 / (len(points) - 1)
        else:
            eigenvalues, directions = np.zeros([0]), np.zeros([0, dim])
        w, sigma2 = _principal_factors(eigenvalues, directions, rank, dim)
        means.append(mean)
        factors.append(w)
        scales.append(np.sqrt(sigma2 + reg))
    return np.stack(means), np.stack(factors), np.asarray(scales)


def low_rank_from_covariances(covariances, rank: int):
    """(factors [K, r, D], noise_scales [K]) of full covariances (GLO's EM mixture in
    the low-rank store): PPCA of each, exact when its rank above the smallest
    eigenvalue's level is <= r."""
    factors, scales = [], []
    for cov in np.asarray(covariances, np.float64):
        eigenvalues, vectors = np.linalg.eigh(cov)
        w, sigma2 = _principal_factors(eigenvalues[::-1], vectors[:, ::-1].T, rank, len(cov))
        factors.append(w)
        scales.append(np.sqrt(sigma2))
    return np.stack(factors), np.asarray(scales)


def _log_gaussians(x, means, covariances):
    """[n, K] log N(x_n | mu_k, Sigma_k)."""
    out = []
    for mu, cov in zip(means, covariances):
        chol = np.linalg.cholesky(cov)
        solved = np.linalg.solve(chol, (x - mu).T)
        out.append(-0.5 * np.sum(solved ** 2, 0) - np.sum(np.log(np.diag(chol)))
                   - 0.5 * x.shape[1] * np.log(2 * np.pi))
    return np.stack(out, 1)


def fit_gaussian_mixture(codes, num_components: int, seed: int = 0, iterations: int = 50,
                         reg: float = 1e-4):
    """GLO's step III: a full-covariance Gaussian mixture fitted by EM, initialised by
    k-means (step I's `kmeans`: 10 Lloyd steps from k-means++ seeds drawn by `seed`).
    Returns (weights [K], means [K, D], covariances [K, D, D])."""
    x = np.asarray(codes, np.float64)
    n, d = x.shape
    if num_components > n:
        raise DataError(f"a {num_components}-component mixture needs at least as many codes, "
                        f"got {n}")
    nearest = kmeans(x, num_components, ("glo-em", int(seed)), restarts=1, iterations=10)
    resp = np.eye(num_components)[nearest]
    for step in range(int(iterations) + 1):
        if step:  # E-step (the first M-step uses the k-means assignment)
            log_p = _log_gaussians(x, means, covariances) + np.log(weights)
            log_p -= log_p.max(1, keepdims=True)
            resp = np.exp(log_p)
            resp /= resp.sum(1, keepdims=True)
        covariances = np.zeros((num_components, d, d))
        counts = resp.sum(0) + 1e-10
        weights = counts / n
        means = (resp.T @ x) / counts[:, None]
        for k in range(num_components):
            centred = x - means[k]
            covariances[k] = ((resp[:, k, None] * centred).T @ centred / counts[k]
                              + reg * np.eye(d))
    return weights, means, covariances


# ------------------------------------------------------------------- generators
def _w(n, width):
    return max(1, int(round(n * width)))


class ConditionalBatchNorm(keras.layers.Layer):
    """BatchNorm without its own affine, then (1 + W_g t) * x + W_b t with t the code's
    class part: for one-hot t, CGAN's per-class gamma and beta."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.BatchNormalization(center=False, scale=False)

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
        return keras.layers.BatchNormalization(name=name)(x)

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
            factors, scales = low_rank_from_covariances(covariances, self.mixture_rank)
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
    generator = generator_network(architecture, image_shape, num_clusters + noise_dim,
                                  num_clusters, conditional, width)
    return COLA(generator, num_clusters, codes, loss_fn, steps_per_epoch, mixture_rank,
                name="cola")


def build_from_config(config, image_shape):
    """COLA / sCOLA / GLO for sampling (G and the fitted mixture, no codes): trained in
    stages by the `cola` / `scola` pipelines (methods/cola/stages.py), reused through
    `generator.from_workdir` (e.g. as LASIUM's task source). Latent: K + d with
    K = cola.num_clusters and d = generator.latent_dim."""
    options = config.get("cola") or {}
    return build_cola(image_shape, int(options.get("num_clusters", 10)),
                           config.generator.latent_dim, options.get("architecture", "infogan"),
                           bool(options.get("conditional_bn", False)),
                           float(options.get("width", 1.0)), seed=config.seed,
                           mixture_rank=options.get("mixture_rank", 0))
