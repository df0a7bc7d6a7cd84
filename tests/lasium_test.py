"""LASIUM end to end: task sampler, pretrained wrappers, exports, the pipeline."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf import export, pipelines, workdir as workdir_lib
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.methods.augintae.config import add_augintae
from fewgen_tf.methods.lasium.config import add_lasium
from fewgen_tf.data import registry, synthetic
from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import msgan, pretrained, vae
from fewgen_tf.data.shift import translate_images
from fewgen_tf.methods.lasium.tasks import LatentTaskSampler
from fewgen_tf.stages.generator import generator_of_run, train_generator


@pytest.fixture(scope="module")
def real_images():
    return synthetic.make_synthetic(12, 4, 28, seed=5).images


def test_gan_mode_episodes_shapes_labels_and_determinism():
    sampler = LatentTaskSampler(msgan.omniglot_msgan(latent_dim=16), 4, 2, 3, "ro",
                                alpha=0.3, epsilon=20.0, translate=2)
    batch = next(iter(sampler.dataset(seed=9, start=5, meta_batch_size=2)))
    assert batch["support_images"].shape == (2, 8, 28, 28, 1)
    assert batch["query_images"].shape == (2, 12, 28, 28, 1)
    assert batch["support_labels"][0].numpy().tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert batch["query_labels"][1].numpy().tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    alone = sampler.sample_task(9, 6)  # task 6 of stream 9 = the batch's second task
    np.testing.assert_allclose(alone["support_images"].numpy(),
                               batch["support_images"][1].numpy(), atol=1e-5)
    # its queries' random shifts come from its own seed too: alike in the batch and alone
    np.testing.assert_allclose(alone["query_images"].numpy(),
                               batch["query_images"][1].numpy(), atol=1e-5)
    unshifted = LatentTaskSampler(sampler.generator, 4, 2, 3, "ro", alpha=0.3, epsilon=20.0)
    plain = unshifted.sample_task(9, 6)
    np.testing.assert_allclose(plain["support_images"].numpy(),
                               alone["support_images"].numpy(), atol=1e-5)
    assert not np.allclose(plain["query_images"].numpy(), alone["query_images"].numpy())
    again = sampler.sample_task(9, 6)
    np.testing.assert_array_equal(alone["query_images"].numpy(), again["query_images"].numpy())
    other = sampler.sample_task(10, 6)
    assert not np.allclose(other["support_images"].numpy(), alone["support_images"].numpy())


def test_vae_mode_support_is_the_real_image(real_images):
    model = vae.omniglot_vae()
    sampler = LatentTaskSampler(model, 5, 1, 2, "oc", real_images=real_images)
    episode = sampler.sample_task(3, 0)
    latents, real, _ = sampler.task_latents(sampler.task_seed(3, 0))
    np.testing.assert_array_equal(episode["support_images"].numpy(), real.numpy())
    flat = real_images.reshape(len(real_images), -1)
    for image in episode["support_images"].numpy():
        assert np.any(np.all(flat == image.reshape(-1), axis=1))
    # The anchors are the encodings of those real images.
    np.testing.assert_allclose(latents[:, 0].numpy(), model.encode(real).numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="needs a generator with an encoder"):
        LatentTaskSampler(msgan.omniglot_msgan(latent_dim=8), 5, 1, 2, real_images=real_images)


def _run_tiny_meta_learning(config, tmp_path):
    """The pipeline on `config` with a tiny meta-learning stage: 4 iterations of an
    8-filter conv4, 12 evaluation tasks (the end-to-end tests' budget)."""
    config.meta.filters = 8
    config.meta.iterations = 4
    config.train.queries = 2
    config.train.steps_per_epoch = 2
    config.train.val_tasks = 8
    config.eval.num_tasks = 12
    config.eval.queries = 3
    return pipelines.run(config, str(tmp_path))


def test_translate_images_by_hand():
    image = np.zeros((1, 5, 5, 1), np.float32)
    image[0, 2, 2, 0] = 1.0
    moved = translate_images(tf.constant(image), tf.constant([[1, -2]])).numpy()
    assert moved[0, 0, 3, 0] == 1.0 and moved.sum() == 1.0  # x + 1, y - 2


def _fake_hub_module(path, signature, latent_dim, low):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal([latent_dim, 8 * 8 * 3], [1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32)])
        def generate(self, z):
            out = tf.reshape(tf.tanh(tf.matmul(z, self.w)), [-1, 8, 8, 3])
            return {"default": out if low < 0 else (out + 1.0) / 2.0}

    module = Module()
    tf.saved_model.save(module, path, signatures={signature: module.generate})
    return module


@pytest.mark.parametrize("kind,signature,latent_dim,low",
                         [("bigbigan", "generate", 120, -1.0), ("progan", "default", 512, 0.0)])
def test_pretrained_wrappers_on_built_savedmodels(tmp_path, kind, signature, latent_dim, low):
    module = _fake_hub_module(str(tmp_path / kind), signature, latent_dim, low)
    generator = pretrained.PretrainedGenerator(str(tmp_path / kind), kind, image_size=16)
    assert generator.latent_dim == latent_dim
    z = generator.sample_latents(3, tf.constant([0, 1], tf.int64))
    images = generator.decode(z).numpy()
    assert images.shape == (3, 16, 16, 3) and images.min() >= 0.0 and images.max() <= 1.0
    raw = module.generate(z)["default"]
    expected = tf.image.resize((raw - low) / (1.0 - low), (16, 16), antialias=True).numpy()
    np.testing.assert_allclose(images, np.clip(expected, 0, 1), atol=1e-5)


def test_pretrained_errors_name_the_expected_signature(tmp_path):
    _fake_hub_module(str(tmp_path / "m"), "default", 512, 0.0)
    with pytest.raises(ConfigError, match=r"has no 'generate' signature \(found: default\); a "
                                          r"bigbigan module must provide generate\(z: float32 "
                                          r"\[N, 120\]\)"):
        pretrained.PretrainedGenerator(str(tmp_path / "m"), "bigbigan", 84)
    with pytest.raises(ConfigError, match="neither a directory nor a hub handle"):
        pretrained.PretrainedGenerator(str(tmp_path / "missing"), "progan", 84)
    with pytest.raises(ConfigError, match="unknown pretrained generator 'stylegan'"):
        pretrained.PretrainedGenerator(str(tmp_path / "m"), "stylegan", 84)


def test_generator_and_task_sampler_exports_round_trip(tmp_path):
    model = msgan.omniglot_msgan(latent_dim=16)
    path = export.export_generator(model, str(tmp_path / "generator" / "1"))
    loaded = tf.saved_model.load(path)
    z = model.sample_latents(2, tf.constant([4, 0], tf.int64))
    decoded = loaded.signatures["decode"](latents=z)["images"].numpy()
    np.testing.assert_allclose(decoded, model.decode(z).numpy(), atol=1e-5)
    sample = loaded.signatures["sample"]
    a = sample(num_images=tf.constant(3), seed=tf.constant(4, tf.int64))["images"].numpy()
    b = sample(num_images=tf.constant(3), seed=tf.constant(4, tf.int64))["images"].numpy()
    assert a.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[:2], decoded, atol=1e-5)  # sample(seed) = decode(latents(seed, 0))

    sampler = LatentTaskSampler(model, 3, 1, 2, "n", epsilon=5.0)
    path = export.export_task_sampler(sampler, str(tmp_path / "task_sampler" / "1"))
    task = tf.saved_model.load(path).signatures["sample_task"]
    first = task(seed=tf.constant(11, tf.int64))
    second = task(seed=tf.constant(11, tf.int64))
    assert sorted(first) == ["query_images", "query_labels", "support_images", "support_labels"]
    np.testing.assert_array_equal(first["query_images"].numpy(), second["query_images"].numpy())
    np.testing.assert_allclose(first["support_images"].numpy(),
                               sampler.sample_task(11, 0)["support_images"].numpy(), atol=1e-5)
    other = task(seed=tf.constant(12, tf.int64))
    assert not np.allclose(other["support_images"].numpy(), first["support_images"].numpy())


@pytest.mark.slow  # an end-to-end pipeline run
@pytest.mark.parametrize("generator", ["vae", "msgan", "augintae"])
def test_lasium_pipeline_end_to_end_on_a_tiny_budget(tmp_path, generator):
    config = add_lasium(add_meta_learning(base_config(), "protonets"), generator, "oc")
    if generator == "augintae":  # an encoder on the unit sphere: real-image anchors
        add_augintae(config)
        config.augintae.width = 0.25
    config.pipeline = "lasium"
    config.data.num_classes = 30
    config.data.images_per_class = 10
    config.generator.epochs = 2
    config.generator.batch_size = 32
    config.generator.latent_dim = 16
    config.lasium.epsilon = 1.0 if generator == "msgan" else 0.0
    config.lasium.translate = 2
    result = _run_tiny_meta_learning(config, tmp_path)
    assert json.loads((tmp_path / "eval.json").read_text())["n"] == 12 and result["mean"] > 0
    samples = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert samples == ["generator_epoch0001.png", "generator_epoch0002.png", "tasks.png"]
    records = workdir_lib.read_metrics(str(tmp_path))
    phases = [r.get("phase") for r in records]
    assert phases == ["generator", "generator", "task_sampler", None, None]
    for name in ("classifier", "generator", "task_sampler"):
        assert (tmp_path / "export" / name / "1" / "saved_model.pb").exists()
    assert (tmp_path / "checkpoints" / "generator").is_dir()

    # Another run reuses this generator (generator.from_workdir) instead of training one.
    config.generator.from_workdir = str(tmp_path)
    train_images = registry.load_splits(config.data)["train"].images
    reused = train_generator(config, str(tmp_path / "reuse"), train_images)
    exported = tf.saved_model.load(str(tmp_path / "export" / "generator" / "1"))
    latents = reused.sample_latents(4, tf.constant([3, 4], tf.int64))
    np.testing.assert_allclose(reused.decode(latents).numpy(),
                               exported.signatures["decode"](latents=latents)["images"].numpy(),
                               atol=1e-5)
    assert not (tmp_path / "reuse" / "checkpoints").exists()  # nothing was trained
    # ... and an experiment rebuilds it from the run's config.json alone.
    rebuilt = generator_of_run(str(tmp_path), train_images.shape[1:])
    np.testing.assert_allclose(rebuilt.decode(latents).numpy(), reused.decode(latents).numpy(),
                               atol=1e-6)
    with pytest.raises(ConfigError, match="has no config.json"):
        generator_of_run(str(tmp_path / "reuse"), train_images.shape[1:])
    config.generator.latent_dim = 7
    with pytest.raises(ConfigError, match=r"generator.from_workdir: .* is not a .* latent_dim 7"):
        train_generator(config, str(tmp_path / "reuse"), train_images)
    config.generator.from_workdir = str(tmp_path / "reuse")
    with pytest.raises(ConfigError, match="no generator checkpoint in"):
        train_generator(config, str(tmp_path / "reuse"), train_images)


def _epsilon_1000(generator, max_resamples):
    """A tiny LASIUM run whose anchors cannot be 1000 apart (latent 8)."""
    config = add_lasium(add_meta_learning(base_config(), "protonets"), generator, "n")
    config.pipeline = "lasium"
    config.data.num_classes = 30
    config.data.images_per_class = 16
    config.generator.epochs = 1
    config.generator.latent_dim = 8
    config.lasium.epsilon = 1000.0
    config.lasium.max_resamples = max_resamples
    return config


def test_impossible_epsilon_is_a_clear_pipeline_error(tmp_path):
    from fewgen_tf.errors import DataError

    config = _epsilon_1000("msgan", max_resamples=10)
    with pytest.raises(DataError, match=r"^LASIUM anchor rejection: no 5 anchors .* "
                                        r"after 10 resamples; lower lasium.epsilon"):
        pipelines.run(config, str(tmp_path))


def test_an_impossible_epsilon_of_real_anchors_names_their_scale_and_keeps_the_generator(
        tmp_path):
    """Real anchors (VAE mode) are encodings, known only once the generator trained: the
    error says their actual scale (not the N(0, I) rule of thumb), and the trained
    generator's checkpoint stays for the corrected rerun to resume."""
    from fewgen_tf.errors import DataError

    config = _epsilon_1000("vae", max_resamples=3)
    with pytest.raises(DataError, match=r"^LASIUM anchor rejection: no 5 anchors .* after 3 "
                                        r"resamples \(the anchors encode real images, "
                                        r"lasium.vae_real_anchors: the mean pairwise squared "
                                        r"distance of this generator's encodings of \d+ "
                                        r"training images is [0-9.e+-]+\); the trained "
                                        r"generator is kept"):
        pipelines.run(config, str(tmp_path))
    assert any(name.startswith("ckpt-") for name in
               os.listdir(tmp_path / "checkpoints" / "generator"))


def _tiny_lasium_with_baselines():
    config = add_lasium(add_meta_learning(base_config(), "protonets"), "vae", "n")
    config.pipeline = "lasium"
    config.data.num_classes = 30
    config.data.images_per_class = 10
    config.generator.epochs = 1
    config.generator.batch_size = 32
    config.meta.filters = 8
    config.meta.iterations = 4
    config.train.queries = 2
    config.train.steps_per_epoch = 2
    config.train.val_tasks = 4
    config.eval.num_tasks = 12
    config.eval.queries = 3
    config.eval.untrained_baseline = True
    config.eval.supervised_baseline = True
    config.export.enabled = False
    return config


@pytest.mark.slow  # three tiny meta-learning runs
def test_summary_compares_lasium_untrained_and_supervised_on_the_same_tasks(tmp_path):
    config = _tiny_lasium_with_baselines()
    result = pipelines.run(config, str(tmp_path / "lasium"))
    summary = json.loads((tmp_path / "lasium" / "summary.json").read_text())
    assert list(summary["rows"]) == ["lasium", "untrained", "supervised"]
    assert summary["tasks"] == {"split": "test", "ways": 5, "shots": 1, "queries": 3,
                                "seed": 42, "algorithm": "protonets", "inner_steps": 50, "n": 12}
    rows = summary["rows"]
    assert rows["lasium"]["mean"] == result["mean"] and rows["lasium"]["iterations"] == 4
    assert [rows[r]["iterations"] for r in rows] == [4, 0, 4]
    assert list(summary["differences"]) == ["lasium - untrained", "lasium - supervised"]
    # the supervised baseline trained (and checkpointed) in its own folder
    assert (tmp_path / "lasium" / "baselines" / "supervised" / "checkpoints").is_dir()

    # The baselines are the runs a user would make by hand, on the same tasks.
    config.pipeline, config.eval.supervised_baseline = "supervised", False
    supervised = pipelines.run(config, str(tmp_path / "supervised"))
    assert supervised["mean"] == rows["supervised"]["mean"]
    config.meta.iterations = 0
    untrained = pipelines.run(config, str(tmp_path / "untrained"))
    assert untrained["mean"] == rows["untrained"]["mean"]
    # the supervised pipeline compares itself with the untrained network too
    assert list(json.loads((tmp_path / "supervised" / "summary.json").read_text())["rows"]) == [
        "supervised", "untrained"]

    # A rerun of the finished workdir resumes everything and writes the same numbers; so
    # does one whose supervised baseline was cut after its first epoch (as by a kill: its
    # newest checkpoint gone, it resumes from the one before).
    before = (tmp_path / "lasium" / "summary.json").read_bytes()
    pipelines.run(_tiny_lasium_with_baselines(), str(tmp_path / "lasium"))
    assert (tmp_path / "lasium" / "summary.json").read_bytes() == before
    baseline_checkpoints = tmp_path / "lasium" / "baselines" / "supervised" / "checkpoints"
    for path in baseline_checkpoints.glob("ckpt-4.*"):
        path.unlink()
    (tmp_path / "lasium" / "summary.json").unlink()
    pipelines.run(_tiny_lasium_with_baselines(), str(tmp_path / "lasium"))
    assert (tmp_path / "lasium" / "summary.json").read_bytes() == before
    assert list(baseline_checkpoints.glob("ckpt-4.index"))  # trained again from step 2


def test_the_supervised_pipeline_refuses_itself_as_a_baseline():
    config = _tiny_lasium_with_baselines()
    config.pipeline = "supervised"
    with pytest.raises(ConfigError, match="eval.supervised_baseline: the supervised pipeline "
                                          "is that baseline itself"):
        pipelines.check_config(config)


@pytest.mark.slow  # an end-to-end pipeline run (COLA steps I-III inline, then ProtoNets)
def test_lasium_on_real_images_grouped_by_cola_clusters_end_to_end(tmp_path):
    """`lasium.cluster_images = real` through the pipeline a user runs: COLA trained inline
    on the unlabelled train images, its step-I clusters group those real images into the
    tasks' classes, ProtoNets meta-learns on them, eval and exports as usual."""
    from fewgen_tf.methods.cola.config import add_cola

    config = add_lasium(add_meta_learning(base_config(), "protonets"), "cola", "cluster")
    add_cola(config, "cola", num_clusters=6)
    config.pipeline = "lasium"
    config.lasium.cluster_images = "real"
    config.data.num_classes = 30
    config.data.images_per_class = 10
    config.generator.epochs = 1
    config.generator.batch_size = 32
    config.generator.latent_dim = 4
    config.cola.width = 0.125
    config.cola.lap_bands = 2
    config.cola.encoder_widths = (4, 8)
    config.cola.encoder_blocks = (1, 1)
    config.cola.cluster_batch_size = 32
    config.cola.cluster_epochs = 1
    config.cola.sample_images = 2
    result = _run_tiny_meta_learning(config, tmp_path)
    assert json.loads((tmp_path / "eval.json").read_text())["n"] == 12 and result["mean"] > 0
    for name in ("classifier", "generator", "task_sampler"):
        assert (tmp_path / "export" / name / "1" / "saved_model.pb").exists()
    # every task image is one of the real train images
    train_images = registry.load_splits(config.data)["train"].images
    task = tf.saved_model.load(str(tmp_path / "export" / "task_sampler" / "1")).signatures[
        "sample_task"](seed=tf.constant(3, tf.int64))
    flat = train_images.reshape(len(train_images), -1)
    for image in task["support_images"].numpy():
        assert np.min(np.abs(flat - image.reshape(1, -1)).max(1)) < 1e-6
