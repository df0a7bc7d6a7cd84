"""AugIntAE (and its AE / IntAE baselines): SLERP, the k and gamma rules, the triplets,
training, `generate`, the pipeline with resume, and clear errors. Tiny images (16x16),
latents (8) and widths (1/8 of the paper's) keep the file fast."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import tiny_configs
from fewgen_tf import export, pipelines
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.methods.augintae.config import add_augintae
from fewgen_tf.data import augment, registry, synthetic
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.augintae import model as augintae
from fewgen_tf.generators import registry as generator_registry
from fewgen_tf.methods.lasium.tasks import LatentTaskSampler
from fewgen_tf.stages.generator import train_generator

SIZE, LATENT, WIDTH = 16, 8, 0.125


@pytest.fixture(scope="module")
def glyphs():
    return synthetic.make_synthetic(4, 8, SIZE, seed=0).images  # 32 images


def _model(variant="augintae", adversarial=True, lr=3e-3):
    keras.utils.set_random_seed(0)
    model = augintae.build_augintae((SIZE, SIZE, 1), LATENT, variant, width=WIDTH,
                                    adversarial=adversarial)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  d_optimizer=keras.optimizers.Adam(lr) if adversarial else None)
    return model


# ------------------------------------------------------------------------------ SLERP
def test_slerp_hand_values():
    a, b = tf.constant([[1.0, 0.0]]), tf.constant([[0.0, 1.0]])
    np.testing.assert_allclose(augintae.slerp(a, b, 1.0), a, atol=1e-6)  # alpha on a
    np.testing.assert_allclose(augintae.slerp(a, b, 0.0), b, atol=1e-6)
    np.testing.assert_allclose(augintae.slerp(a, b, 0.5), (a + b) / math.sqrt(2), atol=1e-6)
    # alpha = 0.25: a quarter of the way from b back to a, i.e. 3/4 of 90 degrees from a
    angle = 0.75 * math.pi / 2
    np.testing.assert_allclose(augintae.slerp(a, b, 0.25), [[math.cos(angle), math.sin(angle)]],
                               atol=1e-6)
    r = np.random.default_rng(0)
    u = augintae.normalize(r.normal(size=(6, 5)).astype(np.float32))
    v = augintae.normalize(r.normal(size=(6, 5)).astype(np.float32))
    out = augintae.slerp(u, v, r.uniform(size=6).astype(np.float32))
    np.testing.assert_allclose(tf.norm(out, axis=-1), np.ones(6), atol=1e-6)
    # per-row alpha: row i of the batch uses alpha[i]
    rows = augintae.slerp(tf.concat([a, a], 0), tf.concat([b, b], 0), tf.constant([1.0, 0.0]))
    np.testing.assert_allclose(rows, [[1.0, 0.0], [0.0, 1.0]], atol=1e-6)


def test_slerp_small_angles_fall_back_to_linear_with_finite_gradients():
    a = tf.constant([[1.0, 0.0, 0.0]])
    b = augintae.normalize(tf.constant([[1.0, 1e-5, 0.0]]))
    linear = augintae.normalize(0.3 * a + 0.7 * b)
    np.testing.assert_allclose(augintae.slerp(a, b, 0.3), linear, atol=1e-7)
    for other in (a, b, -a):  # identical, nearly identical, antipodal
        with tf.GradientTape() as tape:
            tape.watch(other)
            out = augintae.slerp(a, other, 0.4)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(tape.gradient(out, other)))
        np.testing.assert_allclose(tf.norm(out), 1.0, atol=1e-6)


# ------------------------------------------------------------------- k and gamma rules
def test_k_update_by_hand_with_both_clips():
    # Eq. 5: 1 - 0.001 * (1 - (0.8 - 0.5)) = 0.9993
    assert float(augintae.update_k(1.0, 0.8, 0.5)) == pytest.approx(0.9993, abs=1e-7)
    assert float(augintae.update_k(0.5, 0.25, 0.5)) == pytest.approx(0.49875, abs=1e-7)
    # separated by more than 1: k would pass 1 and is clipped back (Eq. 6)
    assert float(augintae.update_k(1.0, 2.0, 0.0)) == 1.0
    assert float(augintae.update_k(0.9995, 1.0, -1.0)) == 1.0
    # D cannot tell real from fake: k falls, and stops at 0
    assert float(augintae.update_k(0.0005, 0.3, 0.3)) == 0.0


def test_gamma_rescales_the_adversarial_gradient_per_image():
    recon = tf.constant(np.stack([np.full((2, 2, 1), 0.5), np.full((2, 2, 1), 0.1)]),
                        tf.float32)  # norms 1.0 and 0.2
    adv = tf.constant(np.stack([np.full((2, 2, 1), 2.0), np.full((2, 2, 1), -0.05)]),
                      tf.float32)    # norms 4.0 and 0.1
    gamma = augintae.adversarial_scale(recon, adv).numpy()
    np.testing.assert_allclose(gamma, [0.25, 2.0], rtol=1e-6)
    scaled = gamma.reshape(-1, 1, 1, 1) * adv.numpy()
    np.testing.assert_allclose(np.linalg.norm(scaled.reshape(2, -1), axis=1), [1.0, 0.2],
                               rtol=1e-6)  # the reconstruction gradient's magnitude
    # IntAE: outputs [reconstructions; interpolations] share the seeds' recon norms
    both = augintae.adversarial_scale(recon, tf.concat([adv, adv * 2.0], 0)).numpy()
    np.testing.assert_allclose(both, [0.25, 2.0, 0.125, 1.0], rtol=1e-6)


def _linear_discriminator(scale, offset):
    """D(x) = scale * mean(x) + offset: a fixed (one-kernel) discriminator for the k tests."""
    d = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.GlobalAveragePooling2D(),
                          keras.layers.Dense(1)])
    d.layers[-1].set_weights([np.full((1, 1), scale, np.float32), np.full((1,), offset, np.float32)])
    return d


def test_the_default_targets_are_minus_one_one_zero(glyphs):
    # a constant D(x) = 0.3: D's loss 0.5 (0.3 - 1)^2 + 0.5 (0.3 + 1)^2 = 1.09, the
    # generator's 0.5 (0.3 - 0)^2 = 0.045, and no separation: k falls by 0.001 (Eq. 5)
    assert augintae.LSGAN_TARGETS == (-1.0, 1.0, 0.0)
    model = _model()
    model.discriminator = _linear_discriminator(0.0, 0.3)
    model.d_optimizer = keras.optimizers.SGD(0.0)
    model.build_optimizers()
    logs = model.train_step(tf.constant(glyphs[:8]))
    assert float(logs["d_loss"]) == pytest.approx(1.09, abs=1e-5)
    assert float(logs["adversarial"]) == pytest.approx(0.045, abs=1e-6)
    assert float(logs["d_real"]) == pytest.approx(0.3, abs=1e-6)
    assert float(model.k) == pytest.approx(0.999, abs=1e-6)
    with pytest.raises(ValueError, match="real > fake"):
        augintae.build_augintae((SIZE, SIZE, 1), LATENT, width=WIDTH, targets=(1.0, 0.0, 1.0))


def test_k_recovers_once_d_separates_by_more_than_one(glyphs):
    # glyphs are mostly white background (mean ~0.8), the untrained generator's images
    # grey (~0.5): D(x) = 20 (mean(x) - 0.65) separates them by ~6, so k climbs from 0.5
    # by 0.001 (separation - 1) per step (Eq. 5), reaching the clip at 1 (Eq. 6)
    model = _model()
    model.discriminator = _linear_discriminator(20.0, -13.0)
    model.d_optimizer = keras.optimizers.SGD(0.0)
    model.build_optimizers()
    model.k.assign(0.5)
    logs = model.train_step(tf.constant(glyphs[:8]))
    separation = float(logs["d_real"]) - float(logs["d_fake"])
    assert separation > 2.0
    assert float(model.k) == pytest.approx(0.5 - 0.001 * (1.0 - separation), abs=1e-6)
    model.k.assign(0.9995)
    model.train_step(tf.constant(glyphs[:8]))
    assert float(model.k) == 1.0


# -------------------------------------------------------------------------- triplets
def test_triplet_construction(glyphs):
    images = tf.constant(glyphs[:4])
    ranges = augment.AugmentationRanges.characters()
    rho1 = augment.sample_parameters(ranges, 4, 1)
    rho2 = augment.sample_parameters(ranges, 4, 2)
    a, b, c = augintae.augmentation_triplet(images, rho1, rho2, 1.0)
    np.testing.assert_allclose(c, a, atol=1e-6)  # alpha = 1 gives A
    assert not np.allclose(a, b)
    _, _, c0 = augintae.augmentation_triplet(images, rho1, rho2, 0.0)
    np.testing.assert_allclose(c0, b, atol=1e-6)
    half = augment.interpolate_parameters(rho1, rho2, 0.5)
    _, _, c_half = augintae.augmentation_triplet(images, rho1, rho2, tf.fill([4], 0.5))
    np.testing.assert_allclose(c_half, augment.apply(images, half), atol=1e-6)
    alpha = augintae.sample_alpha(20000, tf.constant([3, 4], tf.int64)).numpy()
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert alpha.mean() == pytest.approx(0.5, abs=0.01)
    assert alpha.var() == pytest.approx(1 / 24, abs=0.003)  # mean of two uniforms, not 1/12
    first = augintae.sample_triplet(images, ranges, tf.constant([5, 6]))
    again = augintae.sample_triplet(images, ranges, tf.constant([5, 6]))
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)


# -------------------------------------------------------------------------- training
@pytest.mark.parametrize("variant", augintae.VARIANTS)
def test_each_variant_lowers_its_loss(glyphs, variant):
    model = _model(variant)
    data = tf.data.Dataset.from_tensor_slices(glyphs).repeat().batch(16, drop_remainder=True)
    history = model.fit(data, epochs=2, steps_per_epoch=6, verbose=0).history
    assert history["loss"][1] < history["loss"][0]
    assert history["reconstruction"][1] < 0.95 * history["reconstruction"][0]
    assert int(model.optimizer.iterations) == 12 and int(model.d_optimizer.iterations) == 12
    assert 0.0 <= float(model.k) < 1.0 and history["gamma"][1] > 0  # k moved by Eq. 5


def test_non_adversarial_option_has_no_discriminator_and_cuts_the_rate(synthetic_config):
    config = add_augintae(synthetic_config, "augintae")
    config.augintae.adversarial = False
    config.generator.latent_dim = LATENT
    config.augintae.width = WIDTH
    model = generator_registry.build_generator(config, (SIZE, SIZE, 1), total_steps=100)
    assert model.discriminator is None and model.d_optimizer is None
    model.build_optimizers()
    rates = []
    for step in (0, 35, 36, 70, 71):
        model.optimizer.iterations.assign(step)
        rates.append(float(model.optimizer.learning_rate))
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-4, 1e-4, 1e-5], rtol=1e-6)
    adversarial = generator_registry.build_generator(add_augintae(synthetic_config, "ae"),
                                                     (28, 28, 1), total_steps=100)
    assert adversarial.discriminator is not None
    assert float(adversarial.optimizer.learning_rate) == pytest.approx(1e-3)


# -------------------------------------------------------------------------- generate
def test_generate_is_deterministic_and_takes_one_seed(glyphs):
    model = _model()
    seeds = tf.constant(glyphs[:3])
    first = model.generate(seeds, tf.constant(5), tf.constant(7)).numpy()
    assert first.shape == (5, SIZE, SIZE, 1) and 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(first, model.generate(seeds, tf.constant(5), tf.constant(7)))
    assert not np.allclose(first, model.generate(seeds, tf.constant(5), tf.constant(8)))
    traced = tf.function(model.generate)(seeds, tf.constant(5), tf.constant(7)).numpy()
    np.testing.assert_allclose(traced, first, atol=1e-5)
    one = model.generate(seeds[:1], tf.constant(4), tf.constant(7)).numpy()
    assert one.shape == (4, SIZE, SIZE, 1)
    np.testing.assert_array_equal(one, model.generate(seeds[:1], tf.constant(4), tf.constant(7)))
    z = model.sample_latents(6, tf.constant([1, 2], tf.int64))
    np.testing.assert_allclose(tf.norm(z, axis=-1), np.ones(6), atol=1e-6)
    assert model.decode(z).shape == (6, SIZE, SIZE, 1)
    path = model.interpolate(seeds[0], seeds[1], 4).numpy()
    np.testing.assert_allclose(path[0], model.decode(model.encode(seeds[:1]))[0], atol=1e-5)


def test_a_lasium_task_source_with_real_anchors(glyphs):
    model = _model()
    sampler = LatentTaskSampler(model, ways=3, shots=1, queries=2, strategy="n",
                                variance=0.1, real_images=glyphs)
    task = sampler.sample_task(5, 0)
    assert task["support_images"].shape == (3, SIZE, SIZE, 1)
    assert task["query_images"].shape == (6, SIZE, SIZE, 1)
    for image in task["support_images"].numpy():  # each class's support is a real image
        assert any(np.allclose(image, g) for g in glyphs)


# ------------------------------------------------------------------------------ errors
def test_clear_errors_for_shapes_the_architecture_cannot_take():
    with pytest.raises(ConfigError, match="latent_dim must be an int >= 2"):
        augintae.build_augintae((28, 28, 1), 1)
    with pytest.raises(ConfigError, match="side divisible by 4"):
        augintae.build_augintae((30, 30, 1), 32)
    with pytest.raises(ConfigError, match="square images"):
        augintae.build_augintae((28, 32, 1), 32)
    with pytest.raises(ConfigError, match=r"32 \* 2\^j"):
        augintae.build_augintae((48, 48, 3), 512)
    with pytest.raises(ConfigError, match="unknown augintae.architecture"):
        augintae.build_augintae((28, 28, 1), 32, architecture="resnet")
    with pytest.raises(ConfigError, match=r"\[H, W, 1\] or \[H, W, 3\]"):
        augintae.build_augintae((28, 28, 2), 32)


def test_dcgan_shapes_for_rgb():
    model = augintae.build_augintae((64, 64, 3), 16, width=1 / 16)
    widths = [layer.filters for layer in model.encoder.layers
              if isinstance(layer, keras.layers.Conv2D)]
    assert widths == [4, 8, 16, 32]  # 64-128-256-512 at width 1/16
    faces = augintae.build_augintae((128, 128, 3), 16, width=1 / 16)
    assert [layer.filters for layer in faces.encoder.layers
            if isinstance(layer, keras.layers.Conv2D)] == [2, 4, 8, 16, 32]  # + half width
    assert faces.decode(faces.sample_latents(1, tf.constant([0, 0]))).shape == (1, 128, 128, 3)
    assert model.encode(tf.zeros([2, 64, 64, 3])).shape == (2, 16)


# ------------------------------------------------------------------------- pipeline
@pytest.mark.slow  # an end-to-end pipeline run
def test_pipeline_end_to_end_with_resume_and_exports(synthetic_config, tmp_path):
    config = add_augintae(synthetic_config, "augintae")
    config.pipeline = "augintae"
    tiny_configs.apply(config, tiny_configs.GLYPHS_16, tiny_configs.GEN_EVAL,
                       tiny_configs.AUGINTAE, {"gen_eval.seeds_per_class": 2})
    config.gen_eval.feature_cache = str(tmp_path / "cache")
    workdir = str(tmp_path / "run")

    # an "interrupted" run: one epoch trained, then the pipeline resumes to two
    config.generator.epochs = 1
    splits = registry.load_splits(config.data)
    train_generator(config, workdir, splits["train"].images)
    config.generator.epochs = 2
    result = pipelines.run(config, workdir)

    records = [r for r in workdir_lib.read_metrics(workdir) if r.get("phase") == "generator"]
    steps_per_epoch = len(splits["train"].images) // 32
    assert [r["step"] for r in records] == [steps_per_epoch, 2 * steps_per_epoch]
    written = json.loads((tmp_path / "run" / "gen_eval.json").read_text())
    assert written["generator"] == "augintae" and set(written["references"]) == {
        "copy_seeds", "pixel_blend"}
    assert result["metrics"] == written["metrics"]
    samples = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert samples == ["fewshot.png", "generator_epoch0001.png", "generator_epoch0002.png",
                       "interpolations.png"]

    # the exports answer like the trained model, restored by generator.from_workdir
    config.generator.from_workdir = workdir
    model = train_generator(config, str(tmp_path / "reuse"), splits["train"].images)
    loaded = tf.saved_model.load(str(tmp_path / "run" / "export" / "fewshot_generator" / "1"))
    seeds = splits["test"].images[:3]
    out = loaded.signatures["generate"](seed_images=tf.constant(seeds),
                                        num_images=tf.constant(5), seed=tf.constant(9))["images"]
    again = loaded.signatures["generate"](seed_images=tf.constant(seeds),
                                          num_images=tf.constant(5), seed=tf.constant(9))["images"]
    assert out.shape == (5, SIZE, SIZE, 1)
    np.testing.assert_array_equal(out, again)
    np.testing.assert_allclose(out, model.generate(seeds, tf.constant(5), tf.constant(9)),
                               atol=1e-5)
    decoder = tf.saved_model.load(str(tmp_path / "run" / "export" / "generator" / "1"))
    assert decoder.signatures["sample"](num_images=tf.constant(2),
                                        seed=tf.constant(1, tf.int64))["images"].shape == \
        (2, SIZE, SIZE, 1)

    # a training split that is also the novel one is refused
    config.generator.from_workdir = ""
    config.augintae.train_splits = ("train", "test")
    with pytest.raises(ConfigError, match="would not be novel"):
        pipelines.run(config, str(tmp_path / "bad"))


def test_lr_schedule_paper_cuts_only_without_the_discriminator_and_cuts_cuts_both():
    """augintae.lr_schedule: `paper` (A.1: x0.1 at 35% and 70% only without D), `cuts`
    (the same cuts for E+G and D whatever the variant), `constant`."""
    from fewgen_tf.config import base_config
    from fewgen_tf.methods.augintae.config import add_augintae
    from fewgen_tf.methods.augintae.model import build_from_config

    def rates(schedule, adversarial):
        config = add_augintae(base_config())
        config.augintae.lr_schedule, config.augintae.adversarial = schedule, adversarial
        config.augintae.width = 0.25
        model = build_from_config(config, (28, 28, 1), total_steps=100)
        found = []
        for optimizer in (model.optimizer, model.d_optimizer):
            if optimizer is None:
                found.append(None)
                continue
            lr = optimizer._learning_rate
            found.append([float(lr(step)) if callable(lr) else float(lr)
                          for step in (0, 35, 36, 70, 71, 99)])
        return found

    cut = [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5]
    flat = [1e-3] * 6
    assert np.allclose(rates("paper", True), [flat, flat])
    assert np.allclose(rates("paper", False)[0], cut) and rates("paper", False)[1] is None
    assert np.allclose(rates("cuts", True), [cut, cut])
    assert np.allclose(rates("constant", False)[0], flat)


def _check_generate_is_deterministic_and_exported(model, seeds_, tmp_path):
    """generate repeats itself, and the exported generate gives what the model gives."""
    first = model.generate(seeds_, 6, 3).numpy()
    np.testing.assert_array_equal(first, model.generate(seeds_, 6, 3).numpy())
    path = export.export_fewshot_generator(model, (SIZE, SIZE, 1), str(tmp_path / "fs" / "1"))
    served = tf.saved_model.load(path).signatures["generate"](
        seed_images=tf.constant(seeds_), num_images=tf.constant(6), seed=tf.constant(3))
    np.testing.assert_allclose(served["images"].numpy(), first, atol=1e-4)


def test_refined_seed_codes_redraw_the_seeds_closer_and_generate_stays_deterministic(
        glyphs, tmp_path):
    """augintae.refine_steps: Adam on the seeds' codes lowers |G(z) - seed| below the
    encoder's codes, keeps them on the sphere, and the exported generate (the loop runs
    inside the SavedModel) gives what the model gives, the same on every call."""
    model = _model(adversarial=False, lr=1e-2)
    model.fit(glyphs, epochs=30, batch_size=16, verbose=0)
    seeds_ = glyphs[:4]

    def redraw_error(codes):
        return float(tf.reduce_mean(tf.abs(model.decode(codes) - seeds_)))

    encoded = model.encode(seeds_)
    model.refine_steps, model.refine_lr = 40, 0.05
    refined = model.seed_codes(seeds_)
    assert redraw_error(refined) < 0.9 * redraw_error(encoded)
    np.testing.assert_allclose(tf.norm(refined, axis=-1), 1.0, atol=1e-5)

    _check_generate_is_deterministic_and_exported(model, seeds_, tmp_path)


def test_adapted_generator_redraws_the_seeds_closer_on_a_copy_and_exports(glyphs, tmp_path):
    """augintae.adapt_steps: Adam on a COPY of G's weights lowers |G(z_i) - seed_i| at the
    seeds' codes, G's own weights do not change, decode_with(None) is decode, generate
    is deterministic, and the exported generate (the loop inside the SavedModel) gives
    what the model gives."""
    model = _model(adversarial=False, lr=1e-2)
    model.fit(glyphs, epochs=10, batch_size=16, verbose=0)
    seeds_ = glyphs[:4]
    codes = model.seed_codes(seeds_)
    before = [v.numpy().copy() for v in model.generator.trainable_variables]
    assert model.adapted_generator(codes, seeds_) is None  # adapt_steps = 0
    np.testing.assert_array_equal(model.decode_with(None, codes), model.decode(codes))
    model.adapt_steps, model.adapt_lr = 30, 1e-3
    weights = model.adapted_generator(codes, seeds_)

    def redraw_error(images):
        return float(tf.reduce_mean(tf.abs(images - seeds_)))

    assert redraw_error(model.decode_with(weights, codes)) < 0.8 * redraw_error(
        model.decode(codes))
    for v, b in zip(model.generator.trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)

    _check_generate_is_deterministic_and_exported(model, seeds_, tmp_path)


@pytest.mark.parametrize("schedule,adversarial", [("cuts", True), ("paper", False)])
def test_a_run_with_learning_rate_cuts_can_be_reused(tmp_path, glyphs, schedule, adversarial):
    """A run whose optimiser had a schedule (the A.1 cuts) is rebuilt without its
    training budget by generator.from_workdir / generator_of_run: its checkpoint must
    still restore (a float learning rate adds an optimiser variable a schedule lacks)."""
    from fewgen_tf.config import base_config
    from fewgen_tf.methods.augintae.config import add_augintae
    from fewgen_tf.methods.augintae.model import build_from_config
    from fewgen_tf.stages.generator import load_trained_generator

    config = add_augintae(base_config())
    config.generator.latent_dim = LATENT
    config.augintae.width, config.augintae.lr_schedule = WIDTH, schedule
    config.augintae.adversarial = adversarial
    trained = build_from_config(config, (SIZE, SIZE, 1), total_steps=20)
    trained.fit(glyphs, epochs=1, batch_size=16, verbose=0)
    tf.train.Checkpoint(model=trained).save(str(tmp_path / "checkpoints" / "generator" / "ckpt"))
    config.generator.from_workdir = str(tmp_path)
    reused = load_trained_generator(build_from_config(config, (SIZE, SIZE, 1)), config)
    np.testing.assert_array_equal(reused.decode(trained.encode(glyphs[:3])).numpy(),
                                  trained.decode(trained.encode(glyphs[:3])).numpy())
