"""Meta-FAVAE (and Meta-AVAE / FIGR): the losses against hand computations, the inner
Adam, the Reptile outer step, feedback augmentation, adaptation on a toy task, generate,
the export (loaded without fewgen_tf), the pipeline with resume, and clear errors.
Tiny images (16x16), codes (4) and widths (1/16) keep the file fast."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tiny_configs
from fewgen_tf import export, pipelines, tensor_adam
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.methods.meta_favae.config import add_meta_favae
from fewgen_tf.data import images as image_io
from fewgen_tf.data import registry, synthetic
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.generators import msgan
from fewgen_tf.methods.meta_favae import model as meta_favae
from fewgen_tf.methods.meta_favae import nets as meta_favae_nets
from fewgen_tf.generators import registry as generator_registry
from fewgen_tf.methods.meta_favae import pipeline
from fewgen_tf.stages.generator import generator_of_run, load_trained_generator

SIZE, CODE, NOISE, WIDTH = 16, 4, 4, 1 / 16
SMALL = dict(rounds=2, vae_steps=2, d_steps=1, g_steps=2)


@pytest.fixture(scope="module")
def glyphs():
    return synthetic.make_synthetic(4, 8, SIZE, seed=0).images  # 32 images, 4 classes


def _model(**settings):
    keras.utils.set_random_seed(0)
    model = meta_favae.build_meta_favae((SIZE, SIZE, 1), CODE, NOISE, WIDTH,
                                        meta_favae.default_settings(**{**SMALL, **settings}), seed=3)
    return meta_favae.compile_meta_favae(model)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


# ------------------------------------------------------------------------- losses
def _generator_objective_by_hand(model, glyphs):
    """G's objective on 4 glyphs with fixed codes and seed, and the same draws by hand:
    (images, loss, aux, z1, z2, y1, y2)."""
    params = model.meta_parameters()
    images = tf.constant(glyphs[:4])
    codes = tf.random.stateless_normal([4, CODE], [1, 2])
    seed = tf.constant([5, 6], tf.int64)
    loss, aux = model.generator_objective(params, images, codes, seed)
    z1, z2, _ = model._noise_pair(4, codes, seed)
    y1 = model.generator(tf.concat([z1, codes], -1)).numpy()
    y2 = model.generator(tf.concat([z2, codes], -1)).numpy()
    return images, loss, aux, z1, z2, y1, y2


def test_kl_and_vae_loss_by_hand():
    mu = np.array([[0.5, -1.0], [0.0, 0.0]], np.float32)
    log_var = np.array([[0.0, math.log(4.0)], [0.0, 0.0]], np.float32)
    kl = meta_favae.kl_divergence(mu, log_var).numpy()
    # 0.5 * [(1 + 0.25 - 1 - 0) + (4 + 1 - 1 - log 4)] and 0 for the standard normal
    np.testing.assert_allclose(kl, [0.5 * (0.25 + 4.0 - math.log(4.0)), 0.0], rtol=1e-6)
    images = np.zeros((2, 2, 2, 1), np.float32)
    recon = np.zeros((2, 2, 2, 1), np.float32)
    recon[0, 0, 0, 0], recon[1, 1, 1, 0], recon[1, 0, 1, 0] = 1.0, 0.5, -0.5
    total, reconstruction, kl_mean = meta_favae.vae_loss(images, recon, mu, log_var, 10.0)
    # Eq. 1: 1/g * sum of squares = (1 + 0.25 + 0.25) / 2, beta = 10
    assert float(reconstruction) == pytest.approx(0.75, abs=1e-6)
    assert float(kl_mean) == pytest.approx(kl.mean(), rel=1e-6)
    assert float(total) == pytest.approx(0.75 + 10.0 * kl.mean(), rel=1e-6)
    eps = np.array([[1.0, -2.0], [0.5, 0.0]], np.float32)
    np.testing.assert_allclose(meta_favae.reparameterize(mu, log_var, eps),
                               [[1.5, -5.0], [0.5, 0.0]], rtol=1e-6)


def test_gan_losses_average_the_two_draws_by_hand():
    real = np.array([[1.0], [-0.5]], np.float32)
    fake1 = np.array([[0.2], [-1.0]], np.float32)
    fake2 = np.array([[2.0], [0.0]], np.float32)

    def d_draw(r, f):  # Eq. 2 / 3
        return -np.mean(np.log(_sigmoid(r))) - np.mean(np.log(1 - _sigmoid(f)))

    def g_draw(r, f):  # Eq. 4 / 5
        return -np.mean(np.log(_sigmoid(f))) - np.mean(np.log(1 - _sigmoid(r)))

    assert float(meta_favae.discriminator_loss(real, fake1, fake2)) == pytest.approx(
        0.5 * (d_draw(real, fake1) + d_draw(real, fake2)), rel=1e-6)
    assert float(meta_favae.generator_loss(real, fake1, fake2)) == pytest.approx(
        0.5 * (g_draw(real, fake1) + g_draw(real, fake2)), rel=1e-6)
    # relativistic average: D(x) = sigmoid(C(x) - mean C(y)), D(y) = sigmoid(C(y) - mean C(x))
    rd = [d_draw(real - f.mean(), f - real.mean()) for f in (fake1, fake2)]
    rg = [g_draw(real - f.mean(), f - real.mean()) for f in (fake1, fake2)]
    assert float(meta_favae.discriminator_loss(real, fake1, fake2, "relativistic")) == \
        pytest.approx(np.mean(rd), rel=1e-6)
    assert float(meta_favae.generator_loss(real, fake1, fake2, "relativistic")) == \
        pytest.approx(np.mean(rg), rel=1e-6)


def test_generator_objective_uses_the_shared_mode_seeking_term(glyphs):
    assert meta_favae.mode_seeking_term is msgan.mode_seeking_term  # one implementation
    model = _model(mode_seeking_weight=1.0)
    images, loss, aux, z1, z2, y1, y2 = _generator_objective_by_hand(model, glyphs)
    ratio = np.mean(np.abs(y1 - y2)) / np.mean(np.abs(z1.numpy() - z2.numpy()))
    assert float(aux["mode_seeking"]) == pytest.approx(1.0 / (ratio + 1e-5), rel=1e-5)
    real = model.discriminator(images).numpy()
    expected = meta_favae.generator_loss(real, model.discriminator(y1).numpy(),
                                         model.discriminator(y2).numpy())
    assert float(aux["g_loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(loss) == pytest.approx(float(expected) + 1.0 / (ratio + 1e-5), rel=1e-5)


def test_generator_reconstruction_is_famls_l1_term_by_hand(glyphs):
    """lambda_rec L_rec: the mean |x - G(z_k, c)| of the two draws, added to G's loss and
    reported as g_reconstruction (a tracker only when the term is on)."""
    model = _model(mode_seeking_weight=1.0, generator_reconstruction=2.5)
    assert "g_reconstruction" in model.trackers
    assert "g_reconstruction" not in _model().trackers
    images, loss, aux, z1, z2, y1, y2 = _generator_objective_by_hand(model, glyphs)
    expected = 0.5 * (np.mean(np.abs(glyphs[:4] - y1)) + np.mean(np.abs(glyphs[:4] - y2)))
    assert float(aux["g_reconstruction"]) == pytest.approx(expected, rel=1e-5)
    assert float(loss) == pytest.approx(
        float(aux["g_loss"]) + float(aux["mode_seeking"]) + 2.5 * expected, rel=1e-5)
    # the meta-step reports it
    logs = model.train_step(tf.constant(glyphs[:4]))
    assert float(logs["g_reconstruction"]) > 0
    with pytest.raises(ConfigError, match="generator_reconstruction needs the VAE"):
        meta_favae.default_settings(vae=False, feedback=False, generator_reconstruction=1.0)


def test_fitting_g_to_the_seeds_lowers_its_l1_at_their_codes_and_keeps_the_meta_weights(glyphs):
    """`fit_steps`: after the K rounds, G alone descends mean|x_i - G(z, mu_i)| at the
    adapted encoder's means of the seeds; generate stays deterministic and the
    meta-weights unchanged."""
    model = _model(code_source="encoder", fit_steps=30, fit_lr=3e-3)
    seeds = tf.constant(glyphs[:4])
    before = [w.numpy().copy() for w in model.generator.weights]
    phi1, _, _ = model.adapt(model.meta_parameters(), seeds, tf.constant([1, 2], tf.int64))
    fitted = model.fit_generator(phi1, seeds, tf.constant([3, 4], tf.int64))
    mu = model._call("encoder", phi1, seeds)[:, :CODE]

    def l1(params):
        _, _, y1, y2 = model._fakes(params, 4, mu, tf.constant([9, 9], tf.int64))
        return float(meta_favae.generator_reconstruction_loss(seeds, y1, y2))

    assert l1(fitted) < 0.7 * l1(phi1)
    for name in ("encoder", "decoder", "discriminator"):  # only G moves
        for a, b in zip(tf.nest.flatten(fitted[name]), tf.nest.flatten(phi1[name])):
            np.testing.assert_array_equal(a, b)
    first = model.generate(glyphs[:4], 5, 7).numpy()
    np.testing.assert_array_equal(first, model.generate(glyphs[:4], 5, 7))
    for w, b in zip(model.generator.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)
    with pytest.raises(ConfigError, match="fit_steps needs the VAE"):
        meta_favae.default_settings(vae=False, feedback=False, fit_steps=5)


# ------------------------------------------------------------------ inner and outer
def test_inner_adam_matches_keras_adam():
    start = np.array([0.3, -1.2, 2.0], np.float32)
    variable = tf.Variable(start)
    reference = keras.optimizers.Adam(0.01, beta_1=0.5, beta_2=0.999)
    params, state = [tf.constant(start)], tensor_adam.adam_init([tf.constant(start)])
    for step in range(3):
        grad = np.array([0.5, -0.1, 3.0], np.float32) * (step + 1)
        reference.apply_gradients([(tf.constant(grad), variable)])
        params, state = tensor_adam.adam_step(params, [tf.constant(grad)], state, 0.01, 0.5, 0.999)
    np.testing.assert_allclose(params[0], variable.numpy(), rtol=1e-5, atol=1e-7)


def test_outer_step_is_adam_on_phi2_minus_phi1_and_no_inner_state_is_kept(glyphs):
    model = _model()
    model.build_optimizers()
    images = tf.constant(glyphs[:4])
    phi2 = model.meta_parameters()
    seed = tf.constant([3, 0], tf.int64)  # (model seed, meta-iteration 0): train_step's
    phi1, _, _ = model.adapt(phi2, images, seed)
    # adaptation is a pure function of (Phi2, images, seed): another task in between
    # leaves nothing behind (the inner Adam state is fresh for every task)
    model.adapt(phi2, tf.constant(glyphs[8:12]), tf.constant([9, 9], tf.int64))
    again, _, _ = model.adapt(phi2, images, seed)
    for a, b in zip(tf.nest.flatten(phi1), tf.nest.flatten(again)):
        np.testing.assert_array_equal(a, b)

    expected = {}
    for names, lr in ((("generator", "discriminator"), 1e-4), (("encoder", "decoder"), 1e-5)):
        copies = [tf.Variable(p) for n in names for p in phi2[n]]
        grads = [p2 - p1 for n in names for p2, p1 in zip(phi2[n], phi1[n])]
        keras.optimizers.Adam(lr).apply_gradients(zip(grads, copies))
        expected[names] = copies
    variables_before = len(model.variables)
    logs = model.train_step(images)
    for names, copies in expected.items():
        actual = [v for n in names for v in getattr(model, n).trainable_variables]
        for v, e in zip(actual, copies):
            np.testing.assert_allclose(v.numpy(), e.numpy(), rtol=1e-5, atol=1e-8)
    assert int(model.optimizer.iterations) == 1 and int(model.vae_optimizer.iterations) == 1
    assert float(logs["update_norm"]) > 0
    # no variable appeared: the model holds the networks' weights and nothing else, the
    # outer Adams their own slots (m, v per weight, + iterations and learning rate)
    assert len(model.variables) == variables_before
    assert len(model.variables) == sum(len(n.variables) for n in model.networks.values())
    for optimizer, names in ((model.optimizer, ("generator", "discriminator")),
                             (model.vae_optimizer, ("encoder", "decoder"))):
        weights = sum(len(getattr(model, n).trainable_variables) for n in names)
        assert len(optimizer.variables) == 2 * weights + 2


def test_a_meta_batch_of_one_task_is_the_single_task_step_bit_for_bit(glyphs):
    single, batched = _model(), _model()
    for model in (single, batched):
        model.build_optimizers()
    tasks = np.stack([glyphs[:4], glyphs[8:12]])
    for step in range(2):  # (the second step: the seeds follow the step count alike)
        logs_single = single.train_step(tf.constant(tasks[step]))
        logs_batched = batched.train_step(tf.constant(tasks[step:step + 1]))
    for a, b in zip(single.variables, batched.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for optimizer in ("optimizer", "vae_optimizer"):
        for a, b in zip(getattr(single, optimizer).variables,
                        getattr(batched, optimizer).variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert {k: float(v) for k, v in logs_single.items()} == {
        k: float(v) for k, v in logs_batched.items()}


def test_a_meta_batch_steps_by_the_mean_of_the_tasks_phi2_minus_phi1(glyphs):
    """Batched Reptile: B tasks from the same Phi2, task b of meta-iteration i seeded
    (model seed, i * B + b); the outer Adam steps on the mean of Phi2 - Phi1_b."""
    model = _model(feedback=False)
    model.build_optimizers()
    tasks = tf.constant(np.stack([glyphs[:4], glyphs[8:12]]))
    phi2 = model.meta_parameters()
    phi1 = [model.adapt(phi2, tasks[b], tf.constant([3, b], tf.int64))[0] for b in range(2)]
    expected = {}
    for names, lr in ((("generator", "discriminator"), 1e-4), (("encoder", "decoder"), 1e-5)):
        copies = [tf.Variable(p) for n in names for p in phi2[n]]
        grads = [p2 - 0.5 * (a + b) for n in names
                 for p2, a, b in zip(phi2[n], phi1[0][n], phi1[1][n])]
        keras.optimizers.Adam(lr).apply_gradients(zip(grads, copies))
        expected[names] = copies
    logs = model.train_step(tasks)
    for names, copies in expected.items():
        actual = [v for n in names for v in getattr(model, n).trainable_variables]
        for v, e in zip(actual, copies):
            np.testing.assert_allclose(v.numpy(), e.numpy(), rtol=1e-5, atol=1e-8)
    assert int(model.optimizer.iterations) == 1 and float(logs["update_norm"]) > 0
    # the two tasks were adapted apart: their Phi1 differ
    assert not np.allclose(phi1[0]["generator"][0], phi1[1]["generator"][0])
    # meta-iteration i of B tasks draws the noise of tasks i * B .. i * B + B - 1
    np.testing.assert_array_equal(model.task_seeds(tf.constant(5, tf.int64), 3),
                                  [[3, 15], [3, 16], [3, 17]])


def test_adapt_history_gives_every_rounds_losses(glyphs):
    model = _model()
    phi2, images, seed = model.meta_parameters(), tf.constant(glyphs[:4]), tf.constant(
        [1, 2], tf.int64)
    phi1, codes, losses, history = model.adapt(phi2, images, seed, history=True)
    again, _, same_losses = model.adapt(phi2, images, seed)
    for a, b in zip(tf.nest.flatten(phi1), tf.nest.flatten(again)):
        np.testing.assert_array_equal(a, b)  # asking for the history changes nothing
    rounds = SMALL["rounds"] + 1  # + the feedback round
    assert set(history) == set(losses)
    for name, values in history.items():
        assert values.shape == (rounds,)
        # the K-th round's value is what adapt returns; the feedback round comes after
        assert float(values[rounds - 2]) == float(same_losses[name]), name


# ---------------------------------------------------------------------- feedback
def test_feedback_blends_every_ordered_pair_with_coefficients_in_range(glyphs):
    generated = tf.constant(glyphs[:4])
    a = meta_favae.feedback_coefficients(4, tf.constant([1, 2], tf.int64))
    blends = meta_favae.feedback_interpolations(generated, a).numpy()
    assert blends.shape == (16, SIZE, SIZE, 1)
    for i in range(4):
        for j in range(4):
            np.testing.assert_allclose(blends[i * 4 + j], a[i, j] * glyphs[i]
                                       + (1 - a[i, j]) * glyphs[j], atol=1e-6)
    many = meta_favae.feedback_coefficients(200, tf.constant([3, 4], tf.int64)).numpy()
    assert 0.1 <= many.min() < 0.11 and 0.89 < many.max() <= 0.9
    model = _model()
    feedback = model.feedback_images(model.meta_parameters(), tf.zeros([4, CODE]),
                                     tf.constant([1, 1], tf.int64))
    assert feedback.shape == (16, SIZE, SIZE, 1)
    # the extra round on the 4 + 16 images is what separates Meta-FAVAE from Meta-AVAE
    seed, images = tf.constant([1, 2], tf.int64), tf.constant(glyphs[:4])
    with_feedback, _, _ = model.adapt(model.meta_parameters(), images, seed)
    avae = _model(feedback=False)
    without, _, _ = avae.adapt(avae.meta_parameters(), images, seed)
    assert not np.allclose(with_feedback["generator"][0], without["generator"][0])


# ------------------------------------------------------------------- adaptation
def test_adaptation_moves_generations_toward_the_new_class():
    """A toy domain of flat grey classes, from untrained weights: adapting to a bright
    (0.85) or a dark (0.15) class moves the generations' mean intensity (0.59 before)
    to that class. (From random weights D needs more steps than the paper's n_D = 1 to
    lead G; the relativistic loss follows fastest.)"""
    model = _model(rounds=10, vae_steps=1, d_steps=5, g_steps=5, inner_gan_lr=1e-2,
                   feedback=False, gan_loss="relativistic")
    noise = np.random.default_rng(0).normal(0, 0.02, (4, SIZE, SIZE, 1)).astype(np.float32)
    before = float(np.mean(model.decode(model.sample_latents(16, [0, 1]))))
    assert 0.5 < before < 0.65
    for level in (0.85, 0.15):
        images = model.generate(np.clip(level + noise, 0, 1), 16, 5).numpy()
        # at least two thirds of the way from where it was to the class
        assert abs(float(images.mean()) - level) < abs(before - level) / 3, (
            level, before, float(images.mean()))


def test_adaptation_lowers_the_vae_loss_on_a_real_omniglot_character(omniglot_dir):
    """Issue 24's first probe: from freshly initialised meta-weights (28x28, width 1),
    the paper's inner loop (K = 10 rounds of n_VAE 5, n_D 1, n_G 5 Adam steps, inner
    rates 1e-4 / 1e-3, feedback) on 4 drawings of one unseen Omniglot character lowers
    L_VAE (Eq. 1) from its first round to its last, and the adapted Enc, Dec
    reconstruct those drawings better than the meta-weights did (the same posterior
    noise)."""
    with np.load(omniglot_dir / "images_evaluation.npz") as archive:
        drawings = archive["images"][0, :4]  # the first evaluation character
    images = tf.constant(image_io.resize_images(
        drawings.reshape((4, 105, 105, 1)).astype(np.float32), 28))
    keras.utils.set_random_seed(0)
    model = meta_favae.build_meta_favae((28, 28, 1), settings=meta_favae.default_settings(), seed=3)
    phi2, seed = model.meta_parameters(), tf.constant([3, 0], tf.int64)
    phi1, _, _, history = model.adapt(phi2, images, seed, history=True)
    vae = (history["reconstruction"] + model.settings.beta * history["kl"]).numpy()
    rounds = model.settings.rounds
    assert vae[rounds - 1] < 0.8 * vae[0], vae  # (the feedback round's entry is after K)
    probe = tf.constant([7, 7], tf.int64)
    before, aux_before = model.vae_objective(phi2, images, probe)
    after, aux_after = model.vae_objective(phi1, images, probe)
    assert float(after) < 0.8 * float(before), (float(before), float(after))
    assert float(aux_after["reconstruction"]) < float(aux_before["reconstruction"])


# -------------------------------------------------------------------- generate
def test_generate_is_deterministic_and_exports_without_fewgen_tf(glyphs, tmp_path):
    model = _model(code_source="encoder")
    seeds = glyphs[:5]
    first = model.generate(seeds, 6, 7).numpy()
    assert first.shape == (6, SIZE, SIZE, 1) and 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(first, model.generate(seeds, 6, 7))
    assert not np.allclose(first, model.generate(seeds, 6, 8))
    # the meta-weights are untouched by generating (adaptation works on copies)
    z = model.sample_latents(3, tf.constant([1, 2], tf.int64))
    assert z.shape == (3, CODE + NOISE) and model.decode(z).shape == (3, SIZE, SIZE, 1)

    path = export.export_fewshot_generator(model, (SIZE, SIZE, 1),
                                           str(tmp_path / "fewshot_generator" / "1"))
    np.save(tmp_path / "seeds.npy", seeds)
    script = """
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
seeds = tf.constant(np.load(sys.argv[2]))
out = model.signatures["generate"](seed_images=seeds, num_images=tf.constant(6),
                                   seed=tf.constant(7))
print(json.dumps(out["images"].numpy().tolist()))
try:
    model.signatures["generate"](seed_images=seeds[:3], num_images=tf.constant(2),
                                 seed=tf.constant(7))
except tf.errors.InvalidArgumentError as e:
    print("error:", " ".join(e.message.split()), file=sys.stderr)
print("fewgen_tf imported:", "fewgen_tf" in sys.modules, file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", script, path, str(tmp_path / "seeds.npy")],
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fewgen_tf imported: False" in result.stderr
    assert "Meta-FAVAE needs at least 4 seed images" in result.stderr
    served = np.array(json.loads(result.stdout.strip().splitlines()[-1]), np.float32)
    np.testing.assert_allclose(served, first, atol=1e-5)


def test_clear_errors_for_bad_seeds_and_settings(glyphs):
    model = _model()
    with pytest.raises(DataError, match="at least 4 seed images"):
        model.generate(glyphs[:3], 2, 0)
    with pytest.raises(DataError, match=r"seed_images must be \[S, 16, 16, 1\]"):
        model.generate(np.zeros((4, 28, 28, 1), np.float32), 2, 0)
    with pytest.raises(ConfigError, match="unknown meta_favae.gan_loss"):
        meta_favae.default_settings(gan_loss="wasserstein")
    with pytest.raises(ConfigError, match="feedback needs the VAE"):
        meta_favae.default_settings(vae=False, feedback=True)
    with pytest.raises(ConfigError, match="divisible by 4"):
        meta_favae_nets.check_image_shape((30, 30, 1))
    with pytest.raises(ConfigError, match="square"):
        meta_favae_nets.check_image_shape((28, 32, 1))


def test_parameter_counts_stated_in_the_docstring():
    assert meta_favae_nets.parameter_counts(meta_favae_nets.build_networks((28, 28, 1))) == {
        "encoder": 935488, "decoder": 572353, "generator": 973761, "discriminator": 138817,
        "total": 2620419}
    assert meta_favae_nets.parameter_counts(
        meta_favae_nets.build_networks((64, 64, 3)))["total"] == 7991815
    figr = meta_favae_nets.build_networks((28, 28, 1), with_vae=False)
    assert set(figr) == {"generator", "discriminator"}
    resized = meta_favae_nets.parameter_counts(
        meta_favae_nets.build_networks((28, 28, 1), upsampling="resize_conv"))
    assert (resized["decoder"], resized["generator"]) == (500673, 902081)  # (3x3 kernels)


@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3)])
def test_both_upsamplings_give_the_same_shapes(shape):
    """Dec and G upsample by transposed convolutions or by nearest resize + 3x3 conv
    (meta_favae.upsampling); the networks' inputs and outputs do not change."""
    built = {}
    for upsampling in ("transposed", "resize_conv"):
        nets = meta_favae_nets.build_networks(shape, CODE, NOISE, WIDTH, upsampling=upsampling)
        built[upsampling] = nets
        for name, inputs in (("decoder", CODE), ("generator", NOISE + CODE)):
            net = nets[name]
            assert net.input_shape == (None, inputs) and net.output_shape == (None,) + shape
            out = net(tf.random.stateless_normal([3, inputs], [1, 2])).numpy()
            assert out.shape == (3,) + shape and 0.0 <= out.min() and out.max() <= 1.0
            kinds = [type(layer).__name__ for layer in net.layers]
            if upsampling == "transposed":
                assert "Conv2DTranspose" in kinds and "UpSampling2D" not in kinds
            else:
                assert "Conv2DTranspose" not in kinds
                assert kinds.count("UpSampling2D") == meta_favae_nets.levels(shape[0])
    for name in ("encoder", "discriminator"):  # the trunks are untouched
        assert [v.shape for v in built["transposed"][name].weights] == [
            v.shape for v in built["resize_conv"][name].weights]


def test_resize_conv_networks_adapt_and_come_from_the_config(synthetic_config, tmp_path):
    config = _config(synthetic_config, tmp_path)
    config.meta_favae.upsampling = "resize_conv"
    model = generator_registry.build_generator(config, (SIZE, SIZE, 1))
    assert any(isinstance(layer, keras.layers.UpSampling2D) for layer in model.generator.layers)
    assert any(isinstance(layer, keras.layers.UpSampling2D) for layer in model.decoder.layers)
    phi2 = model.meta_parameters()
    phi1, _, losses = model.adapt(phi2, tf.constant(np.full((4, SIZE, SIZE, 1), 0.8, np.float32)),
                                  tf.constant([1, 2], tf.int64))
    assert all(np.isfinite(float(v)) for v in losses.values())
    assert not np.allclose(phi1["generator"][0], phi2["generator"][0])
    config.meta_favae.upsampling = "bilinear"
    with pytest.raises(ConfigError, match=r"unknown meta_favae.upsampling 'bilinear'; valid: "
                                          r"transposed, resize_conv"):
        pipelines.check_config(config)
    with pytest.raises(ConfigError, match="unknown meta_favae.upsampling"):
        meta_favae_nets.build_networks((28, 28, 1), upsampling="bilinear")


# ----------------------------------------------------------------------- pipeline
def _config(synthetic_config, tmp_path, variant="favae"):
    config = add_meta_favae(synthetic_config, variant)
    config.pipeline = "meta_favae"
    tiny_configs.apply(config, tiny_configs.GLYPHS_16, tiny_configs.GEN_EVAL,
                       tiny_configs.META_FAVAE)
    config.gen_eval.feature_cache = str(tmp_path / "cache")
    return config


@pytest.mark.slow  # an end-to-end pipeline run
def test_pipeline_resumes_an_interrupted_meta_training_exactly(synthetic_config, tmp_path):
    config = _config(synthetic_config, tmp_path)
    splits = registry.load_splits(config.data)
    # the uninterrupted reference: 4 meta-iterations in one go
    config.generator.iterations = 4
    config.meta_favae.grid_classes = 0
    straight = pipeline.meta_train(config, str(tmp_path / "straight"), splits)
    # an "interrupted" run: 2 meta-iterations (one epoch), then the pipeline resumes to 4
    workdir = str(tmp_path / "run")
    config.generator.iterations = 2
    pipeline.meta_train(config, workdir, splits)
    config.generator.iterations = 4
    config.meta_favae.grid_classes = 2
    result = pipelines.run(config, workdir)

    records = [r for r in workdir_lib.read_metrics(workdir) if r.get("phase") == "generator"]
    assert [r["step"] for r in records] == [2, 4]
    speed = [r for r in workdir_lib.read_metrics(workdir) if r.get("phase") == "meta_favae_speed"]
    assert [r["step"] for r in speed] == [2, 4] and speed[-1]["meta_iterations_per_s"] > 0
    resumed = generator_registry.build_generator(config, (SIZE, SIZE, 1))
    config.generator.from_workdir = workdir
    load_trained_generator(resumed, config)
    for a, b in zip(resumed.weights, straight.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)

    written = json.loads((tmp_path / "run" / "gen_eval.json").read_text())
    assert written["generator"] == "favae" and result["metrics"] == written["metrics"]
    samples = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert samples == ["fewshot.png", "meta_favae_epoch0002.png"]  # (epoch 1 ran before)
    # (the served images equal the in-process ones: test_generate_is_deterministic_...)
    loaded = tf.saved_model.load(str(tmp_path / "run" / "export" / "fewshot_generator" / "1"))
    served = loaded.signatures["generate"](seed_images=tf.constant(splits["test"].images[:4]),
                                           num_images=tf.constant(3), seed=tf.constant(2))
    assert served["images"].shape == (3, SIZE, SIZE, 1)
    sampler = tf.saved_model.load(str(tmp_path / "run" / "export" / "generator" / "1"))
    assert sampler.signatures["sample"](num_images=tf.constant(2), seed=tf.constant(
        1, tf.int64))["images"].shape == (2, SIZE, SIZE, 1)

    # an evaluation-only run with other generation settings (from_workdir is set above)
    # reuses these meta-weights; generator_of_run rebuilds it: its settings, those weights
    config.meta_favae.fit_steps = 3
    pipelines.run(config, str(tmp_path / "eval"))
    rebuilt = generator_of_run(str(tmp_path / "eval"), (SIZE, SIZE, 1))
    assert rebuilt.settings.fit_steps == 3
    for a, b in zip(rebuilt.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow  # two pipeline runs
def test_pipeline_meta_batch_trains_on_consecutive_tasks_and_resumes(synthetic_config,
                                                                      tmp_path):
    """meta_favae.meta_batch = 2: meta-iteration i trains on tasks 2i, 2i + 1 of the
    stream (also after a resume), as train_step on those batches does by hand."""
    from fewgen_tf.data import episodes

    config = _config(synthetic_config, tmp_path)
    config.meta_favae.meta_batch, config.meta_favae.grid_classes = 2, 0
    config.meta_favae.steps_per_epoch = 1
    splits = registry.load_splits(config.data)
    workdir = str(tmp_path / "run")
    config.generator.iterations = 1
    pipeline.meta_train(config, workdir, splits)
    config.generator.iterations = 2
    resumed = pipeline.meta_train(config, workdir, splits)  # (resumes after step 1)

    reference = generator_registry.build_generator(config, (SIZE, SIZE, 1))
    reference.build_optimizers()
    tasks = episodes.episode_dataset(splits["train"], 1, 4, 0, config.seed,
                                     pipeline.TASK_STREAM, meta_batch_size=2)
    for batch in tasks.take(2):
        reference.train_step(batch["support_images"])
    for a, b in zip(resumed.weights, reference.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    speed = [r for r in workdir_lib.read_metrics(workdir) if r.get("phase") == "meta_favae_speed"]
    assert [r["step"] for r in speed] == [1, 2]
    assert speed[-1]["tasks_per_s"] == pytest.approx(2 * speed[-1]["meta_iterations_per_s"])


def test_pipeline_refuses_bad_settings(synthetic_config, tmp_path):
    config = _config(synthetic_config, tmp_path, "figr")
    assert not config.meta_favae.vae and not config.meta_favae.feedback
    assert config.generator.mode_seeking_weight == 0.0
    splits = registry.load_splits(config.data)
    config.meta_favae.train_split = "test"
    with pytest.raises(ConfigError, match="would not be novel"):
        pipeline.meta_train(config, str(tmp_path / "a"), splits)
    config.meta_favae.train_split = "train"
    config.distribute = "mirrored"  # (conftest's 2 logical CPU devices: 2 replicas)
    with pytest.raises(ConfigError, match="cannot be spread over 2 replicas"):
        pipeline.meta_train(config, str(tmp_path / "b"), splits)
    config.distribute = "auto"
    config.meta_favae.task_size = 50
    with pytest.raises(DataError, match=r"fewer than meta_favae.task_size = 50"):
        pipeline.meta_train(config, str(tmp_path / "c"), splits)
    with pytest.raises(ValueError, match="unknown Meta-FAVAE variant"):
        add_meta_favae(synthetic_config, "faml")
    config.meta_favae.task_size = 4
    config.meta_favae.meta_batch = 0
    with pytest.raises(ConfigError, match=r"meta_favae.meta_batch must be an int >= 1"):
        pipelines.check_config(config)
