"""Meta-FAVAE (Meta-learning-based Feedback augmented Adversarial VAE), its Meta-AVAE
ablation (`feedback=False`) and the FIGR baseline (`vae=False`, a plain GAN): Reptile over
an adversarial VAE (paper Eq. 1-7, Algorithms 1 and 2 of appendix A). Networks:
`meta_favae_nets` (Enc, Dec, G(z, c), D).

Losses on one task x (g images of one class), c = mu + exp(log_var / 2) * eps from Enc(x):

  L_VAE  = 1/g sum_i ||x_i - Dec(c_i)||^2 + beta KL(q(c|x) || N(0, I))         (Eq. 1)
  L_disc = 1/2 sum_k  -E_x log D(x) - E_yk log(1 - D(y_k)),  y_k = G(z_k, c)    (Eq. 2-3)
  L_gen  = 1/2 sum_k  -E_yk log D(y_k) - E_x log(1 - D(x))                     (Eq. 4-5)
  L_ms   = 1 / (mean|y_1 - y_2| / mean|z_1 - z_2| + 1e-5)                        (Eq. 7)
  L_rec  = 1/2 sum_k mean|x - y_k|      (FAML's encoder term; NOT in Meta-FAVAE's paper)

Eq. 7 is written as the maximisation of the ratio; like MSGAN's official code (and FAML)
the generator minimises its inverse (`msgan.mode_seeking_term`). Inner loop: `adapt`
(K rounds of `inner_round`, then the feedback round); outer step: `train_step`;
generation (Algorithm 2): `generate`. What departs from the paper is an option whose
default is the paper's (`generator_reconstruction`, `code_source`, `fit_steps`).

Speed: a meta-iteration is arithmetic (~118 GFLOP at 28x28), so the cheap wins are small;
XLA (`generator.jit_compile`) stays off on CPU, where the backward convolutions inside the
inner tf.while_loop compile to generic loops. Numbers: benchmarks/RESULTS.md, section
"Meta-FAVAE's pieces and speed".
"""

import dataclasses

import keras
import tensorflow as tf

from fewgen_tf import config as config_lib
from fewgen_tf import seeds
from fewgen_tf.tensor_adam import adam_init, adam_step
from fewgen_tf.errors import DataError
from fewgen_tf.methods.meta_favae import config as meta_favae_config
from fewgen_tf.methods.meta_favae import nets as meta_favae_nets
from fewgen_tf.generators.msgan import mode_seeking_term
from fewgen_tf.generators.vae import kl_divergence, reparameterize

GAN_LOSSES = meta_favae_config.GAN_LOSSES      # (declared with meta_favae.*)
CODE_SOURCES = meta_favae_config.CODE_SOURCES


# --------------------------------------------------------------------- the maths, small
def vae_loss(images, reconstructions, mu, log_var, beta):
    """Eq. 1: (L_VAE, reconstruction, KL): per-image squared-error sums and KLs, both
    averaged over the g images."""
    reconstruction = tf.reduce_mean(tf.reduce_sum(tf.square(images - reconstructions),
                                                  axis=[1, 2, 3]))
    kl = tf.reduce_mean(kl_divergence(mu, log_var))
    return reconstruction + beta * kl, reconstruction, kl


def _flat(logits):
    return tf.reshape(tf.cast(logits, tf.float32), [-1])


def _neg_log_sigmoid(x):      # -log sigmoid(x)
    return tf.nn.softplus(-x)


def _neg_log_one_minus(x):    # -log(1 - sigmoid(x))
    return tf.nn.softplus(x)


def _one_draw(real, fake, kind, discriminator):
    """One noise draw's loss, with D(.) = sigmoid(logit) written as softplus of logits.
    `kind="relativistic"` (the relativistic-average GAN of the paper's introduction and
    FAML): D(x) -> sigmoid(C(x) - E_y C(y)), D(y) -> sigmoid(C(y) - E_x C(x))."""
    real, fake = _flat(real), _flat(fake)
    if kind == "relativistic":
        real, fake = real - tf.reduce_mean(fake), fake - tf.reduce_mean(real)
    if discriminator:   # -E_x log D(x) - E_y log(1 - D(y))
        return tf.reduce_mean(_neg_log_sigmoid(real)) + tf.reduce_mean(_neg_log_one_minus(fake))
    # -E_y log D(y) - E_x log(1 - D(x))
    return tf.reduce_mean(_neg_log_sigmoid(fake)) + tf.reduce_mean(_neg_log_one_minus(real))


def discriminator_loss(real_logits, fake_logits_1, fake_logits_2, kind="standard"):
    """Eq. 2-3 (or their relativistic-average form): the mean of the two draws' losses."""
    return 0.5 * (_one_draw(real_logits, fake_logits_1, kind, True)
                  + _one_draw(real_logits, fake_logits_2, kind, True))


def generator_loss(real_logits, fake_logits_1, fake_logits_2, kind="standard"):
    """Eq. 4-5 (or their relativistic-average form): the mean of the two draws' losses."""
    return 0.5 * (_one_draw(real_logits, fake_logits_1, kind, False)
                  + _one_draw(real_logits, fake_logits_2, kind, False))


def generator_reconstruction_loss(images, generated_1, generated_2):
    """L_rec: the mean absolute pixel difference between each image x_i and G(z_k, c_i),
    averaged over the two noise draws (FAML's L1 encoder term, lambda_encoder).

    Why (`generator_reconstruction`, lambda_rec, default 0 = the paper): in Eq. 1-7
    nothing asks G to USE its code c. D sees only images, mode seeking varies only z,
    and with beta = 10 the encoder's posterior collapses onto the prior (issue 24's
    probe: two characters' mean codes 0.16 sigma apart), so a character's identity
    reaches G only through the K inner rounds. FAML, the same authors' earlier method,
    adds this L1 term with weight 1 to its G steps: G then learns to draw x_i from its
    code, and generating from the seeds' codes (`code_source="encoder"`) carries their
    identity. c_i is the last VAE step's sample for x_i, held constant, so only G learns
    from the term."""
    return 0.5 * (tf.reduce_mean(tf.abs(images - generated_1))
                  + tf.reduce_mean(tf.abs(images - generated_2)))


def feedback_coefficients(n, seed, value_range=(0.1, 0.9)):
    """a [n, n] ~ U[low, high]: one blend coefficient per ordered pair of generations."""
    low, high = value_range
    return tf.random.stateless_uniform([n, n], seed, minval=low, maxval=high)


def feedback_interpolations(generated, coefficients):
    """[n^2, H, W, C]: image i * n + j is a_ij y_i + (1 - a_ij) y_j."""
    n = tf.shape(generated)[0]
    a = tf.reshape(coefficients, [-1, 1, 1, 1])
    first = tf.repeat(generated, n, axis=0)     # y_i for i * n + j
    second = tf.tile(generated, [n, 1, 1, 1])   # y_j for i * n + j
    return a * first + (1.0 - a) * second


# ------------------------------------------------------------------------- the settings
@dataclasses.dataclass(frozen=True)
class Settings:
    """Algorithm 1's numbers and the model's options, as `meta_favae.*` declares them
    (methods/meta_favae/config.py; `settings_from_config`, `default_settings`).

    FIGR (`vae=False`): Reptile on the plain GAN G, D of the same networks; c is then
    simply more noise from N(0, I) (G sees [z, c]), no encoder, decoder or feedback;
    FIGR's config also sets lambda_ms = 0."""
    rounds: int                      # K
    vae_steps: int                   # n_VAE
    d_steps: int                     # n_D
    g_steps: int                     # n_G
    inner_vae_lr: float              # alpha_1,enc = alpha_1,dec
    inner_gan_lr: float              # alpha_1,disc = alpha_1,gen
    inner_beta_1: float              # inner Adam (FAML's betas; the paper gives none)
    inner_beta_2: float
    beta: float                      # Eq. 1
    mode_seeking_weight: float       # lambda_ms
    gan_loss: str                    # standard (Eq. 2-5) | relativistic
    vae: bool                        # False: FIGR (a plain GAN)
    feedback: bool                   # False: Meta-AVAE
    feedback_generations: int        # n (n^2 blends)
    feedback_range: tuple
    code_source: str                 # generation's c: prior (Algorithm 2) | encoder
    generator_reconstruction: float  # lambda_rec: FAML's L1(x, G(z, c)) in the G steps
    fit_steps: int                   # generate: G fitted to the seeds after the K rounds
    fit_lr: float
    min_seeds: int                   # g: the seed images a generation task needs

    def __post_init__(self):  # the checks of meta_favae.* (config.py), one copy
        meta_favae_config.check_settings(dict(
            rounds=self.rounds, vae_steps=self.vae_steps, d_steps=self.d_steps,
            g_steps=self.g_steps, task_size=self.min_seeds,
            feedback_generations=self.feedback_generations, gan_loss=self.gan_loss,
            code_source=self.code_source, feedback_range=self.feedback_range, vae=self.vae,
            feedback=self.feedback, generator_reconstruction=self.generator_reconstruction,
            fit_steps=self.fit_steps, fit_lr=self.fit_lr))


# ----------------------------------------------------------------------------- the model
class MetaFAVAE(keras.Model):
    """Reptile over Enc, Dec, G, D (module doc); `settings` hold Algorithm 1's numbers.

    Generator contract: `latent_dim` = noise_dim + code_dim, `sample_latents` = N(0, I)
    (Algorithm 2's z and c), `decode(latents)` = G with the META-weights Phi2 (unadapted)."""

    def __init__(self, networks, code_dim, noise_dim, settings=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings or default_settings()
        if self.settings.vae != ("encoder" in networks):
            raise ValueError("networks must hold an encoder and decoder exactly when vae=True")
        self.encoder = networks.get("encoder")
        self.decoder = networks.get("decoder")
        self.generator = networks["generator"]
        self.discriminator = networks["discriminator"]
        self.code_dim, self.noise_dim = int(code_dim), int(noise_dim)
        self.latent_dim = self.noise_dim + self.code_dim
        self.image_shape = tuple(int(s) for s in self.generator.output_shape[1:])
        self.seed = int(seed)
        names = (["reconstruction", "kl"] if self.settings.vae else []) + [
            "d_loss", "g_loss", "mode_seeking"] + (
            ["g_reconstruction"] if self.settings.generator_reconstruction else []) + [
            "update_norm"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.vae_optimizer = None
        self.built = True

    # ------------------------------------------------------------------ bookkeeping
    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def networks(self):
        """{name: network} of Phi2, in a fixed order (the VAE's only when it has one)."""
        names = (("encoder", "decoder") if self.settings.vae else ()) + ("generator",
                                                                         "discriminator")
        return {name: getattr(self, name) for name in names}

    def compile(self, optimizer, vae_optimizer=None, **kwargs):
        """`optimizer`: the outer Adam of G and D (its step count = meta-iterations);
        `vae_optimizer`: the outer Adam of Enc and Dec (with the VAE only)."""
        if self.settings.vae and vae_optimizer is None:
            raise ValueError("Meta-FAVAE with a VAE needs vae_optimizer")
        super().compile(optimizer=optimizer, **kwargs)
        self.vae_optimizer = vae_optimizer if self.settings.vae else None

    def _gan_variables(self):
        return self.generator.trainable_variables + self.discriminator.trainable_variables

    def _vae_variables(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def build_optimizers(self):
        self.optimizer.build(self._gan_variables())
        if self.settings.vae:
            self.vae_optimizer.build(self._vae_variables())

    def meta_parameters(self):
        """Phi2 by value: {network: [tensors]}."""
        return {name: [tf.identity(v) for v in net.trainable_variables]
                for name, net in self.networks.items()}

    def _call(self, name, params, inputs):
        net = getattr(self, name)
        outputs, _ = net.stateless_call(params[name], net.non_trainable_variables, inputs,
                                        training=True)
        return tf.cast(outputs, tf.float32)

    # ------------------------------------------------------------- one inner round
    def _encode(self, params, images, seed):
        stats = self._call("encoder", params, images)
        mu, log_var = stats[:, :self.code_dim], stats[:, self.code_dim:]
        eps = tf.random.stateless_normal(tf.shape(mu), seed)
        return mu, log_var, reparameterize(mu, log_var, eps)

    def _noise_pair(self, batch, codes, seed):
        z1 = tf.random.stateless_normal([batch, self.noise_dim], seeds.fold(seed, 1))
        z2 = tf.random.stateless_normal([batch, self.noise_dim], seeds.fold(seed, 2))
        if codes is None:  # FIGR: c is more noise
            codes = tf.random.stateless_normal([batch, self.code_dim], seeds.fold(seed, 3))
        return z1, z2, codes

    def _fakes(self, params, batch, codes, seed):
        z1, z2, codes = self._noise_pair(batch, codes, seed)
        # (two calls of G, not one on [z1; z2]: the same maths, but measured 0.89x as
        # fast at width 1 on the 2-core CPU: the two branches run side by side)
        y1 = self._call("generator", params, tf.concat([z1, codes], -1))
        y2 = self._call("generator", params, tf.concat([z2, codes], -1))
        return z1, z2, y1, y2

    def real_logits(self, params, images):
        """D(x) as data: the G steps' real term (D is fixed there, so one call serves
        all n_G steps of a round; no gradient reaches G through it). Computed once a
        round, the meta-step is bit for bit the one that called D on x in every G step
        (measured), with ~2% less arithmetic."""
        return tf.stop_gradient(self._call("discriminator", params, images))

    def vae_objective(self, params, images, seed):
        mu, log_var, codes = self._encode(params, images, seed)
        reconstructions = self._call("decoder", params, codes)
        loss, reconstruction, kl = vae_loss(images, reconstructions, mu, log_var,
                                            self.settings.beta)
        return loss, {"reconstruction": reconstruction, "kl": kl, "codes": codes}

    def discriminator_objective(self, params, images, codes, seed):
        """L_disc (Eq. 2-3)."""
        _, _, y1, y2 = self._fakes(params, tf.shape(images)[0], codes, seed)
        real = self._call("discriminator", params, images)
        loss = discriminator_loss(real, self._call("discriminator", params, y1),
                                  self._call("discriminator", params, y2),
                                  self.settings.gan_loss)
        return loss, {"d_loss": loss}

    def generator_objective(self, params, images, codes, seed, real=None):
        """L_gen + lambda_ms L_ms (Eq. 4-5, 7) [+ lambda_rec L_rec, FAML's term, when
        `generator_reconstruction` > 0]. `real`: D's logits of `images` when already
        known (`real_logits`; they do not depend on G)."""
        z1, z2, y1, y2 = self._fakes(params, tf.shape(images)[0], codes, seed)
        if real is None:
            real = self.real_logits(params, images)
        adversarial = generator_loss(real, self._call("discriminator", params, y1),
                                     self._call("discriminator", params, y2),
                                     self.settings.gan_loss)
        mode_seeking = mode_seeking_term(z1, z2, y1, y2)
        loss = adversarial + self.settings.mode_seeking_weight * mode_seeking
        aux = {"g_loss": adversarial, "mode_seeking": mode_seeking}
        if self.settings.generator_reconstruction:
            reconstruction = generator_reconstruction_loss(images, y1, y2)
            loss += self.settings.generator_reconstruction * reconstruction
            aux["g_reconstruction"] = reconstruction
        return loss, aux

    def _descend(self, names, objective, steps, lr, params, state, seed, aux):
        """`steps` inner Adam steps of `objective(params, seed) -> (loss, aux)` on the
        networks `names` (tf.while_loop); the other networks stay fixed. Returns the
        updated params, Adam state and the last step's aux (`aux` when steps = 0)."""
        s = self.settings

        def body(j, own, state, aux):
            full = dict(params)
            full.update(own)
            with tf.GradientTape() as tape:
                tape.watch(own)
                loss, new_aux = objective(full, seeds.fold(seed, j))
            grads = tape.gradient(loss, own)
            own, state = adam_step(own, grads, state, lr, s.inner_beta_1, s.inner_beta_2)
            return j + 1, own, state, new_aux

        own = {name: params[name] for name in names}
        _, own, state, aux = tf.while_loop(lambda j, *_: j < steps, body,
                                           (tf.constant(0), own, state, aux))
        params = dict(params)
        params.update(own)
        return params, state, aux

    def inner_round(self, params, states, images, seed):
        """One round of Algorithm 1 (lines 7-25): n_VAE Adam steps on Enc+Dec (L_VAE, lr
        alpha_1,enc = alpha_1,dec), n_D on D (L_disc) and n_G on G (L_gen + lambda_ms
        L_ms), both at alpha_1,gen = alpha_1,disc. The codes c fed to G in the D and G
        steps are the last VAE step's (Algorithm 1 line 9), held constant there. Returns
        (params, states, codes, losses); codes are the last VAE step's (FIGR: zeros)."""
        s = self.settings
        states = dict(states)
        batch = tf.shape(images)[0]
        codes = tf.zeros([batch, self.code_dim])
        losses = {name: tf.constant(0.0) for name in self.trackers if name != "update_norm"}
        if s.vae:
            aux = {"reconstruction": losses["reconstruction"], "kl": losses["kl"],
                   "codes": codes}
            params, states["vae"], aux = self._descend(
                ("encoder", "decoder"), lambda p, sd: self.vae_objective(p, images, sd),
                s.vae_steps, s.inner_vae_lr, params, states["vae"], seeds.fold(seed, 0), aux)
            codes = tf.stop_gradient(aux.pop("codes"))
            losses.update(aux)
        gan_codes = codes if s.vae else None
        params, states["discriminator"], aux = self._descend(
            ("discriminator",),
            lambda p, sd: self.discriminator_objective(p, images, gan_codes, sd),
            s.d_steps, s.inner_gan_lr, params, states["discriminator"], seeds.fold(seed, 1),
            {"d_loss": losses["d_loss"]})
        losses.update(aux)
        real = self.real_logits(params, images)  # (D is fixed during the n_G steps)
        params, states["generator"], aux = self._descend(
            ("generator",),
            lambda p, sd: self.generator_objective(p, images, gan_codes, sd, real),
            s.g_steps, s.inner_gan_lr, params, states["generator"], seeds.fold(seed, 2),
            {name: losses[name] for name in ("g_loss", "mode_seeking", "g_reconstruction")
             if name in losses})
        losses.update(aux)
        return params, states, codes, losses

    def feedback_images(self, params, codes, seed):
        """The n^2 blends of n generations from the task's codes (cycled), as data.

        Feedback augmentation (the F): G makes n = 4 images from the task's codes (fresh
        noise) and every ordered pair (i, j) is blended pixel-wise, a_ij y_i + (1 - a_ij)
        y_j with a_ij ~ U[0.1, 0.9] (n^2 = 16 images; the paper's count includes the
        pairs i = j, which are y_i itself). No gradient flows into the blends."""
        n = self.settings.feedback_generations
        codes = tf.gather(codes, tf.range(n) % tf.shape(codes)[0])
        z = tf.random.stateless_normal([n, self.noise_dim], seeds.fold(seed, 0))
        generated = self._call("generator", params, tf.concat([z, codes], -1))
        coefficients = feedback_coefficients(n, seeds.fold(seed, 1), self.settings.feedback_range)
        return tf.stop_gradient(feedback_interpolations(generated, coefficients))

    def adapt(self, params, images, seed, history=False):
        """Phi1 from `params` (Phi2) on one task's `images` [B, H, W, C] (Algorithm 1
        lines 3-26, Algorithm 2 lines 2-25): K rounds (`inner_round`) with a fresh inner
        Adam; then, with feedback, one more round on the images plus the n^2 blends
        (`feedback_images`), continuing the same inner Adam. The inner Adam is written
        out on tensors (`tensor_adam.adam_step`): its moments start at zero for every
        task and are dropped after it, so no optimiser state carries from one task to
        the next (the FAML authors' code keeps it across tasks). Every noise draw is
        stateless, from the task's seed. `seed`: a stateless
        int64 pair. Returns (Phi1, the K-th round's codes of `images`, its losses), and
        with `history` also {loss name: [rounds]} of every round (each the round's last
        step's value; with feedback the last entry is the feedback round's, on the
        images plus blends): the inner losses round by round.

        The feedback round is iteration K of the same tf.while_loop (its input is the
        images plus blends made inside the loop, an empty batch before), so the round's
        graph exists once: half the graph, tracing and export time."""
        s = self.settings
        images = tf.convert_to_tensor(images, tf.float32)
        batch = tf.shape(images)[0]
        states = {"discriminator": adam_init({"discriminator": params["discriminator"]}),
                  "generator": adam_init({"generator": params["generator"]})}
        if s.vae:
            states["vae"] = adam_init({"encoder": params["encoder"],
                                       "decoder": params["decoder"]})
        no_blends = tf.zeros([0] + list(self.image_shape))

        def body(k, params, states, codes, losses, *trace):
            inputs = images
            if s.feedback:
                blends = tf.cond(
                    k < s.rounds, lambda: no_blends,
                    lambda: self.feedback_images(params, codes, seeds.fold(seed, s.rounds, 1)))
                inputs = tf.concat([images, blends], 0)
            params, states, new_codes, new_losses = self.inner_round(params, states, inputs,
                                                                     seeds.fold(seed, k))
            in_rounds = k < s.rounds  # (the feedback round's codes and losses are not kept)
            new_codes = tf.ensure_shape(new_codes[:batch], codes.shape)
            codes = tf.where(in_rounds, new_codes, codes)
            trace = tuple({name: t.write(k, new_losses[name]) for name, t in part.items()}
                          for part in trace)
            losses = {name: tf.where(in_rounds, new_losses[name], losses[name])
                      for name in losses}
            return (k + 1, params, states, codes, losses) + trace

        codes = tf.zeros([batch, self.code_dim])
        losses = {name: tf.constant(0.0) for name in self.trackers if name != "update_norm"}
        total = s.rounds + (1 if s.feedback else 0)
        trace = ({name: tf.TensorArray(tf.float32, size=total) for name in losses},
                 ) if history else ()
        _, params, states, codes, losses, *trace = tf.while_loop(
            lambda k, *_: k < total, body,
            (tf.constant(0), params, states, codes, losses) + trace)
        if history:
            return params, codes, losses, {name: t.stack() for name, t in trace[0].items()}
        return params, codes, losses

    # -------------------------------------------------------------------- training
    def adapt_tasks(self, params, tasks, task_seeds):
        """Phi1 of each task of `tasks` [B, g, H, W, C], all adapted from the same `params`
        (Phi2) by `adapt`, task b with the seed `task_seeds[b]`, side by side
        (`tf.map_fn`, B iterations in parallel). Returns (Phi1 with a leading task axis,
        each loss [B]).

        Not `tf.vectorized_map`: its Conv2D rule needs weights shared by all iterations
        (here each task has its own Phi1 after the first step), so it falls back to loops.
        Side by side gains little on a CPU, where the work is arithmetic, not overhead
        (benchmarks/RESULTS.md, section "Meta-FAVAE's pieces and speed")."""
        def one(task):
            images, seed = task
            phi1, _, losses = self.adapt(params, images, seed)
            return phi1, losses

        spec = lambda t: tf.TensorSpec(t.shape, t.dtype)  # noqa: E731
        losses = {name: tf.TensorSpec([], tf.float32) for name in self.trackers
                  if name != "update_norm"}
        return tf.map_fn(one, (tasks, task_seeds), parallel_iterations=int(tasks.shape[0]),
                         fn_output_signature=(tf.nest.map_structure(spec, params), losses))

    def task_seeds(self, step, count, replicas=1, replica=0):
        """[count, 2]: the noise seeds (model seed, step * B + replica * count + b) of this
        replica's `count` tasks of meta-iteration `step`, B = count * replicas the global
        meta-batch (tf.distribute hands replica r the r-th `count` tasks of the batch), so
        every task meets the noise it meets on one device. One task on one device:
        (model seed, step), Algorithm 1's step."""
        index = (tf.cast(step, tf.int64) * count * replicas
                 + tf.cast(replica, tf.int64) * count + tf.range(count, dtype=tf.int64))
        return tf.stack([tf.fill([count], tf.constant(self.seed, tf.int64)), index], 1)

    def train_step(self, tasks):
        """One meta-iteration (Algorithm 1) on one task `tasks` [g, H, W, C], or on a
        meta-batch of B tasks [B, g, H, W, C] (batched Reptile, Nichol et al. 2018, Alg. 2).
        Outer step (lines 27-28): the "gradient" Phi2 - Phi1 applied by Adam, lr
        alpha_2,enc = alpha_2,dec for Enc+Dec (`vae_optimizer`) and alpha_2,gen =
        alpha_2,disc for G+D (`optimizer`, whose step count is the meta-iterations).
        With a meta-batch each task is adapted from the same Phi2 and the "gradient" is
        the mean of the tasks' Phi2 - Phi1. Task b of meta-iteration i draws its noise
        from the seed (model seed, i * B + b): one task [g, ...] and a batch of one
        [1, g, ...] are the same step.

        Under a tf.distribute strategy of R replicas each replica adapts its B / R tasks
        and returns the sum of its tasks' Phi2 - Phi1 divided by B; the optimizers sum
        the replicas' "gradients", so the step is the mean over all B tasks, as on one
        device (up to the order of the float sums)."""
        if isinstance(tasks, (tuple, list)):
            tasks = tasks[0]
        tasks = tf.convert_to_tensor(tasks, tf.float32)
        step = tf.cast(self.optimizer.iterations, tf.int64)
        phi2 = self.meta_parameters()
        if tasks.shape.rank not in (4, 5):
            raise ValueError("train_step takes one task [g, H, W, C] or a meta-batch "
                             f"[B, g, H, W, C], got shape {tasks.shape}")
        if tasks.shape.rank == 4:
            seed = tf.stack([tf.constant(self.seed, tf.int64), step])
            phi1, _, losses = self.adapt(phi2, tasks, seed)
            difference = {name: [a - b for a, b in zip(phi2[name], phi1[name])]
                          for name in phi2}
        else:
            count = tasks.shape[0]
            if count is None:
                raise ValueError("a meta-batch of tasks needs a static task count "
                                 f"(batch with drop_remainder=True), got {tasks.shape}")
            context = tf.distribute.get_replica_context()
            replicas = context.num_replicas_in_sync if context is not None else 1
            replica = context.replica_id_in_sync_group if replicas > 1 else 0
            phi1, losses = self.adapt_tasks(phi2, tasks,
                                            self.task_seeds(step, count, replicas, replica))
            # = the mean of the Phi2 - Phi1_b (one replica); a 1/R share of it under R
            difference = {name: [(a - tf.reduce_mean(b, 0)) / replicas if replicas > 1
                                 else a - tf.reduce_mean(b, 0)
                                 for a, b in zip(phi2[name], phi1[name])] for name in phi2}
            losses = {name: tf.reduce_mean(value) for name, value in losses.items()}
        gan = difference["generator"] + difference["discriminator"]
        self.optimizer.apply_gradients(zip(gan, self._gan_variables()))
        if self.settings.vae:
            self.vae_optimizer.apply_gradients(
                zip(difference["encoder"] + difference["decoder"], self._vae_variables()))
        total = tf.nest.flatten(difference)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:  # the global step's
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, total)
        losses["update_norm"] = tf.linalg.global_norm(total)
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name])
        return {name: t.result() for name, t in self.trackers.items()}

    # -------------------------------------------------------------- generator contract
    def sample_latents(self, n, seed):
        """[n, noise_dim + code_dim] ~ N(0, I): Algorithm 2's z and c."""
        return tf.random.stateless_normal([n, self.latent_dim], seed=seed)

    def decode(self, latents, training=False):
        """G of the META-weights on latents [n, noise_dim + code_dim] (= [z, c])."""
        return tf.cast(self.generator(tf.cast(latents, tf.float32), training=training),
                       tf.float32)

    def call(self, latents, training=False):
        return self.decode(latents, training)

    # ---------------------------------------------------------- few-shot generation
    def check_seed_images(self, seed_images):
        """DataError for seeds of another image shape or fewer than `min_seeds` (where
        the shape is known when traced; the graph asserts the count as well)."""
        shape = seed_images.shape
        if shape.rank is not None and (shape.rank != 4 or any(
                d is not None and d != e for d, e in zip(shape[1:], self.image_shape))):
            raise DataError(f"seed_images must be [S, {', '.join(map(str, self.image_shape))}]"
                            f", got shape {tuple(shape)}")
        count = shape[0] if shape.rank else None
        if count is not None and count < self.settings.min_seeds:
            raise DataError(f"Meta-FAVAE adapts on at least {self.settings.min_seeds} seed "
                            f"images (meta_favae.task_size), got {count}")

    def generate(self, seed_images, num_images, seed):
        """`num_images` images of the seeds' class (Algorithm 2): adapt from Phi2 on the
        seeds (K rounds, + feedback) inside the graph, then G_1(z, c) with z ~ N(0, I)
        and c ~ N(0, I) (`code_source="prior"`, the paper's) or c from the adapted
        encoder of the seeds (`"encoder"`: a random seed's mu + sigma eps); with
        `fit_steps` > 0 G is first fitted to the seeds (`fit_generator`). Stateless in
        `seed`: the same seeds and seed give the same images."""
        seed_images = tf.convert_to_tensor(seed_images, tf.float32)
        self.check_seed_images(seed_images)
        # one trace for every seed count (also what the exported signature calls)
        generate = self._generate.get_concrete_function(
            tf.TensorSpec([None] + list(self.image_shape), tf.float32),
            tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int64))
        return generate(seed_images, tf.cast(num_images, tf.int32), tf.cast(seed, tf.int64))

    def fit_generator(self, params, seed_images, seed):
        """`params` with G fitted to the seeds: `fit_steps` Adam steps (inner betas, lr
        `fit_lr`) of G alone on mean|x_i - G(z, mu_i)| over two noise draws (FAML's L1
        term, `generator_reconstruction_loss`), mu_i the adapted encoder's mean of seed
        i. Not in the paper (fit_steps 0): after Algorithm 2's K rounds, whose GAN and
        mode-seeking terms need not make G redraw the seeds, this makes G's output at the
        seeds' codes their character (AugIntAE's `adapt_steps` found the same lever)."""
        s = self.settings
        mu, _, _ = self._encode(params, seed_images, seed)
        mu = tf.stop_gradient(mu)
        batch = tf.shape(seed_images)[0]

        def objective(p, sd):
            _, _, y1, y2 = self._fakes(p, batch, mu, sd)
            loss = generator_reconstruction_loss(seed_images, y1, y2)
            return loss, {"fit": loss}

        params, _, _ = self._descend(("generator",), objective, s.fit_steps, s.fit_lr, params,
                                     adam_init({"generator": params["generator"]}), seed,
                                     {"fit": tf.constant(0.0)})
        return params

    @tf.function(reduce_retracing=True)
    def _generate(self, seed_images, num_images, seed):
        check = tf.debugging.assert_greater_equal(
            tf.shape(seed_images)[0], self.settings.min_seeds,
            message=f"generate: Meta-FAVAE needs at least {self.settings.min_seeds} seed "
                    "images")
        with tf.control_dependencies([check]):
            seed_pair = seeds.seed_pair(seed)
        phi1, _, _ = self.adapt(self.meta_parameters(), seed_images, seeds.fold(seed_pair, 1))
        if self.settings.fit_steps:
            phi1 = self.fit_generator(phi1, seed_images, seeds.fold(seed_pair, 6))
        z = tf.random.stateless_normal([num_images, self.noise_dim], seeds.fold(seed_pair, 2))
        if self.settings.code_source == "encoder":
            mu, log_var, _ = self._encode(phi1, seed_images, seeds.fold(seed_pair, 3))
            pick = tf.random.stateless_uniform([num_images], seeds.fold(seed_pair, 4), 0,
                                               tf.shape(seed_images)[0], dtype=tf.int32)
            eps = tf.random.stateless_normal([num_images, self.code_dim], seeds.fold(seed_pair, 5))
            codes = reparameterize(tf.gather(mu, pick), tf.gather(log_var, pick), eps)
        else:
            codes = tf.random.stateless_normal([num_images, self.code_dim],
                                               seeds.fold(seed_pair, 3))
        return self._call("generator", phi1, tf.concat([z, codes], -1))


def settings_from_config(config):
    """`Settings` from `meta_favae.*` (config.add_meta_favae) and
    `generator.mode_seeking_weight` (lambda_ms)."""
    m = config.meta_favae
    return Settings(
        rounds=int(m.rounds), vae_steps=int(m.vae_steps), d_steps=int(m.d_steps),
        g_steps=int(m.g_steps), inner_vae_lr=float(m.inner_vae_lr),
        inner_gan_lr=float(m.inner_gan_lr), inner_beta_1=float(m.inner_beta_1),
        inner_beta_2=float(m.inner_beta_2), beta=float(m.beta),
        mode_seeking_weight=float(config.generator.mode_seeking_weight),
        gan_loss=m.gan_loss, vae=bool(m.vae), feedback=bool(m.feedback),
        feedback_generations=int(m.feedback_generations),
        feedback_range=tuple(float(a) for a in m.feedback_range),
        code_source=m.code_source, generator_reconstruction=float(m.generator_reconstruction),
        fit_steps=int(m.fit_steps), fit_lr=float(m.fit_lr), min_seeds=int(m.task_size))


def default_settings(variant="favae", **changes):
    """The declared settings of `variant` (favae | avae | figr), with `changes`."""
    config = meta_favae_config.add_meta_favae(config_lib.base_config(), variant)
    return dataclasses.replace(settings_from_config(config), **changes)


def build_meta_favae(image_shape, code_dim=64, noise_dim=64, width=1.0, settings=None,
                     seed=0, upsampling="transposed"):
    """The networks for `image_shape` (ConfigError for what they cannot take; Dec and G
    upsample by `upsampling`: transposed | resize_conv, nets.py) and the model around
    them (not compiled)."""
    settings = settings or default_settings()
    networks = meta_favae_nets.build_networks(image_shape, code_dim, noise_dim, width,
                                              with_vae=settings.vae, upsampling=upsampling)
    name = ("meta_favae" if settings.feedback else "meta_avae") if settings.vae else "figr"
    return MetaFAVAE(networks, code_dim, noise_dim, settings, seed, name=name)


def compile_meta_favae(model, outer_vae_lr=1e-5, outer_gan_lr=1e-4, jit_compile=False):
    """The outer Adams of Algorithm 1 line 28 (Keras' default betas)."""
    model.compile(optimizer=keras.optimizers.Adam(outer_gan_lr),
                  vae_optimizer=(keras.optimizers.Adam(outer_vae_lr)
                                 if model.settings.vae else None),
                  jit_compile=bool(jit_compile))
    return model


def build_from_config(config, image_shape):
    """The registry's builder: Meta-FAVAE / Meta-AVAE / FIGR (`meta_favae.*`), with the
    outer Adams of Algorithm 1 (meta-trained by the `meta_favae` pipeline,
    `generator.iterations` meta-iterations). c has `generator.latent_dim` dimensions."""
    options = config.meta_favae
    model = build_meta_favae(
        image_shape, config.generator.latent_dim, int(options.noise_dim),
        float(options.width), settings_from_config(config), seed=config.seed,
        upsampling=options.upsampling)
    return compile_meta_favae(
        model, float(options.outer_vae_lr), float(options.outer_gan_lr),
        jit_compile=bool(config.generator.jit_compile))
