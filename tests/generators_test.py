"""VAE and MSGAN: the generator contract, the mode-seeking term by hand, training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf import training
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.methods.lasium.config import add_lasium
from fewgen_tf.data import synthetic
from fewgen_tf.generators import msgan, registry, vae


@pytest.fixture(scope="module")
def glyphs():
    return synthetic.make_synthetic(8, 8, 28, seed=0).images  # 64 real-looking images


def test_mode_seeking_term_by_hand():
    z1, z2 = tf.constant([[0.0, 0.0], [1.0, 1.0]]), tf.constant([[1.0, 2.0], [1.0, 3.0]])
    g1 = tf.constant(np.zeros((2, 2, 2, 1), np.float32))
    g2 = tf.constant(np.full((2, 2, 2, 1), 0.5, np.float32))
    # mean|G1-G2| = 0.5; mean|z1-z2| = (1 + 2 + 0 + 2) / 4 = 1.25; lz = 0.4.
    value = float(msgan.mode_seeking_term(z1, z2, g1, g2))
    assert value == pytest.approx(1.0 / (0.4 + 1e-5), rel=1e-6)


def test_generator_contracts():
    model = vae.omniglot_vae()
    z = model.sample_latents(3, tf.constant([1, 2], tf.int64))
    assert z.shape == (3, 20)
    np.testing.assert_array_equal(z, model.sample_latents(3, tf.constant([1, 2], tf.int64)))
    images = model.decode(z)
    assert images.shape == (3, 28, 28, 1) and 0.0 <= float(tf.reduce_min(images))
    assert float(tf.reduce_max(images)) <= 1.0
    assert model.encode(images).shape == (3, 20)
    gan = msgan.omniglot_msgan()
    assert gan.decode(gan.sample_latents(2, tf.constant([0, 0], tf.int64))).shape == (2, 28, 28, 1)
    rgb = vae.rgb_vae()
    assert rgb.decode(rgb.sample_latents(1, tf.constant([0, 0], tf.int64))).shape == (1, 84, 84, 3)


def _fit(model, images, steps):
    data = tf.data.Dataset.from_tensor_slices(images).repeat().batch(32, drop_remainder=True)
    return model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0).history


def test_vae_train_step_reduces_its_loss(glyphs):
    keras.utils.set_random_seed(0)
    model = vae.omniglot_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    first = _fit(model, glyphs, 1)["loss"][0]
    last = _fit(model, glyphs, 40)["loss"][0]
    assert last < 0.7 * first


def test_msgan_train_step_trains_both_players(glyphs):
    keras.utils.set_random_seed(0)
    model = msgan.omniglot_msgan(latent_dim=16)
    model.compile(g_optimizer=keras.optimizers.Adam(3e-4), d_optimizer=keras.optimizers.Adam(3e-4))
    g_before = [v.numpy() for v in model.generator.trainable_variables]
    first = _fit(model, glyphs, 1)
    history = _fit(model, glyphs, 15)
    # The discriminator learns to separate real from early fakes: its loss falls.
    assert history["d_loss"][0] < first["d_loss"][0]
    assert history["mode_seeking"][0] > 0
    assert int(model.optimizer.iterations) == 16 and int(model.d_optimizer.iterations) == 16
    assert max(np.abs(a - v.numpy()).max()
               for a, v in zip(g_before, model.generator.trainable_variables)) > 0


def test_gan_checkpoint_resume_keeps_both_optimizers(glyphs, tmp_path):
    def make(start):
        return tf.data.Dataset.from_tensor_slices(glyphs).repeat().batch(32, drop_remainder=True)

    def build():
        model = msgan.omniglot_msgan(latent_dim=8)
        model.compile(g_optimizer=keras.optimizers.Adam(3e-4),
                      d_optimizer=keras.optimizers.Adam(3e-4))
        return model

    training.fit_resumable(build(), make, 4, 2, str(tmp_path), verbose=0)
    resumed = build()
    assert training.fit_resumable(resumed, make, 6, 2, str(tmp_path), verbose=0) == 6
    assert int(resumed.d_optimizer.iterations) == 6


def _vae_run(glyphs, workdir, steps):
    def make(start):
        return (tf.data.Dataset.from_tensor_slices(glyphs).repeat()
                .batch(32, drop_remainder=True).skip(start))

    keras.utils.set_random_seed(0)
    model = vae.omniglot_vae(latent_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    training.fit_resumable(model, make, steps, 2, str(workdir), verbose=0)
    return model


def test_a_resumed_generator_continues_its_noise_stream(glyphs, tmp_path):
    """The reparameterisation noise (a keras SeedGenerator, outside `model.weights`) is
    checkpointed: training 2 steps, stopping and resuming to 4 gives the weights of 4
    uninterrupted steps (before the fix the noise restarted: 6e-3 apart)."""
    whole = _vae_run(glyphs, tmp_path / "whole", 4)
    _vae_run(glyphs, tmp_path / "cut", 2)
    resumed = _vae_run(glyphs, tmp_path / "cut", 4)
    assert int(resumed.optimizer.iterations.numpy()) == 4
    np.testing.assert_array_equal(training.random_states(resumed)[0].numpy(),
                                  training.random_states(whole)[0].numpy())
    for a, b in zip(whole.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)


def test_a_checkpoint_without_noise_states_still_resumes(glyphs, tmp_path, caplog):
    """Checkpoints of earlier versions hold no noise states: they restore, with a warning."""
    keras.utils.set_random_seed(0)
    model = vae.omniglot_vae(latent_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    legacy = training.training_checkpoint(model, model.optimizer,
                                          tf.Variable(-np.inf, dtype=tf.float64),
                                          with_random_states=False)
    tf.train.CheckpointManager(legacy, str(tmp_path / "checkpoints"), 3).save(0)
    assert training.fit_resumable(_compiled_vae(), lambda start: tf.data.Dataset.from_tensor_slices(
        glyphs).repeat().batch(32).skip(start), 2, 2, str(tmp_path), verbose=0) == 2
    assert "holds no noise-stream states" in caplog.text


def _compiled_vae():
    model = vae.omniglot_vae(latent_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_msgan_in_mixed_bfloat16_trains_and_keeps_float32_weights_and_images(glyphs):
    config = add_lasium(add_meta_learning(base_config()), "msgan", "n")
    config.generator.mixed_bfloat16 = True
    config.generator.latent_dim = 16
    model = registry.build_generator(config, (28, 28, 1))
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building
    compute = {layer.compute_dtype for layer in model.generator.layers[:-1]}
    assert compute == {"bfloat16"}
    assert model.discriminator.layers[0].compute_dtype == "bfloat16"
    assert {v.dtype for v in model.trainable_variables} == {"float32"}
    history = _fit(model, glyphs, 3)
    assert all(np.isfinite(history[k][0]) for k in ("d_loss", "g_loss", "mode_seeking"))
    images = model.decode(model.sample_latents(2, tf.constant([0, 1], tf.int64)))
    assert images.dtype == tf.float32 and images.shape == (2, 28, 28, 1)


def test_generator_train_step_under_xla_learns_like_the_plain_step(glyphs):
    """Same weights and data; the reparameterisation noise differs (XLA lowers the
    stateless RNG differently), so the losses after training agree only closely."""
    losses = []
    for jit_compile in (False, True):
        config = add_lasium(add_meta_learning(base_config()), "vae", "n")
        config.generator.latent_dim = 8
        config.generator.jit_compile = jit_compile
        model = registry.build_generator(config, (28, 28, 1))
        assert model.jit_compile == jit_compile
        first = _fit(model, glyphs, 1)["loss"][0]
        losses.append(_fit(model, glyphs, 20)["loss"][0])
        assert losses[-1] < 0.8 * first
    assert losses[1] == pytest.approx(losses[0], rel=0.05)
