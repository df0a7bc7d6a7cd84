"""One MirroredStrategy meta-step over 2 logical CPUs equals the single-device step."""

import numpy as np
import pytest
import tensorflow as tf

import tiny_configs
from fewgen_tf import distribute
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.errors import ConfigError
from fewgen_tf.meta import factory


def _config(algorithm):
    config = add_meta_learning(base_config(), algorithm)
    config.meta.filters = 8
    config.meta.inner_steps = 2
    config.meta.meta_lr = 1e-2
    return config


def _episodes():
    r = np.random.default_rng(0)
    batch = {
        "support_images": r.uniform(size=(4, 5, 28, 28, 1)).astype(np.float32),
        "support_labels": np.tile(np.arange(5, dtype=np.int32), (4, 1)),
        "query_images": r.uniform(size=(4, 10, 28, 28, 1)).astype(np.float32),
        "query_labels": np.tile(np.repeat(np.arange(5, dtype=np.int32), 2), (4, 1)),
    }
    return tf.data.Dataset.from_tensors(batch)


def _one_step(config, strategy):
    with strategy.scope():
        learner = factory.build_learner(config, (28, 28, 1))
    learner.fit(_episodes(), epochs=1, steps_per_epoch=1, verbose=0)
    return [v.numpy() for v in learner.net.trainable_variables]


@pytest.fixture(scope="module")
def mirrored():
    """One strategy for all tests, the pipelines' own (`distribute.make_strategy` keeps
    one per process): separate MirroredStrategy objects in one process can clash in their
    collective-op keys."""
    strategy = distribute.make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2  # conftest's two logical CPU devices
    return strategy


@pytest.mark.parametrize("algorithm", ["maml", "protonets", "reptile"])
def test_mirrored_step_equals_single_device_step(algorithm, mirrored):
    config = _config(algorithm)
    assert mirrored.num_replicas_in_sync == 2
    single = _one_step(config, tf.distribute.get_strategy())
    replicated = _one_step(config, mirrored)
    with tf.distribute.get_strategy().scope():
        initial = [v.numpy() for v in factory.build_learner(config, (28, 28, 1))
                   .net.trainable_variables]
    assert max(np.abs(a - b).max() for a, b in zip(single, initial)) > 1e-4  # it moved
    for a, b in zip(single, replicated):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)


def _vae_steps(strategy, initial_weights, steps=3):
    """`steps` VAE steps on a global batch of 8 images, from `initial_weights`. Plain SGD:
    Adam divides every gradient by its own size, so a weight whose gradient is float
    noise (a bias before BatchNorm: BatchNorm cancels it) takes a full step of random
    sign, which hides the equality of the gradients this test is about."""
    import keras

    from fewgen_tf.generators import vae

    images = np.random.default_rng(1).uniform(size=(8, 28, 28, 1)).astype(np.float32)
    with strategy.scope():
        model = vae.omniglot_vae(latent_dim=4, seed=3)
        model.compile(optimizer=keras.optimizers.SGD(1e-4))
    if initial_weights is not None:
        model.set_weights(initial_weights)
    start = [w.copy() for w in model.get_weights()]
    model.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=1, steps_per_epoch=steps,
              verbose=0)
    return start, model


def test_mirrored_vae_steps_equal_single_device_steps(mirrored):
    """A generator trained on batches of images (LASIUM's VAE): under 2 replicas each
    replica's reparameterisation noise is its rows of the global batch's draw and
    BatchNorm uses the global batch's statistics, so the steps equal one device's (before
    the fix the replicas shared one noise draw and the weights ended 1.6e-3 apart after
    these 3 steps; with the noise fixed but per-replica BatchNorm statistics, 5e-3)."""
    start, single = _vae_steps(tf.distribute.get_strategy(), None)
    _, replicated = _vae_steps(mirrored, start)
    assert any(getattr(layer, "synchronized", False)
               for layer in replicated.encoder.layers)          # global statistics
    assert not any(getattr(layer, "synchronized", False)
                   for layer in single.encoder.layers)          # one device: plain BN
    moved = max(np.abs(a - b).max() for a, b in zip(single.get_weights(), start))
    assert moved > 1e-3
    # atol 1e-5: oneDNN's float32 kernels give results that depend on what the process
    # ran before (measured 2026-11-29: up to 1.5e-6 apart on 7 of 12,544 decoder weights
    # after a few other tests, never with TF_ENABLE_ONEDNN_OPTS=0); the defects this test
    # guards against put the weights 1.6e-3 and 5e-3 apart.
    for a, b in zip(single.get_weights(), replicated.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_replicas_draw_their_rows_of_the_global_noise(mirrored):
    """`global_batch_rows`: the two replicas' rows are different and, stacked in replica
    order, equal the one-device draw for the global batch; `replica_seed` differs
    between replicas and is the seed itself on one device."""
    import keras

    def draws(strategy):
        with strategy.scope():
            generator = keras.random.SeedGenerator(7)

        @tf.function
        def step():
            def replica_fn():
                rows = distribute.global_batch_rows(
                    lambda n: keras.random.normal((n, 3), seed=generator), 2)
                seed = distribute.replica_seed(tf.constant([5, 9], tf.int32))
                return rows, seed
            return strategy.run(replica_fn)
        rows, seeds = step()
        return ([r.numpy() for r in strategy.experimental_local_results(rows)],
                [s.numpy() for s in strategy.experimental_local_results(seeds)])

    (one,), (one_seed,) = draws(tf.distribute.get_strategy())
    with tf.distribute.get_strategy().scope():
        reference = keras.random.normal((4, 3), seed=keras.random.SeedGenerator(7)).numpy()
    np.testing.assert_array_equal(one, reference[:2])
    np.testing.assert_array_equal(one_seed, [5, 9])
    (first, second), (seed0, seed1) = draws(mirrored)
    np.testing.assert_array_equal(np.concatenate([first, second]), reference)
    assert not np.array_equal(seed0, seed1)


def test_strategy_names():
    assert distribute.make_strategy("default").num_replicas_in_sync == 1
    assert distribute.make_strategy("auto").num_replicas_in_sync == 1  # no GPU, no TPU here
    with pytest.raises(ConfigError, match="unknown distribute 'gpu'; valid: auto, default"):
        distribute.make_strategy("gpu")


def test_thread_pools_are_sized_in_a_fresh_process_and_checked():
    import subprocess
    import sys

    code = ("import tensorflow as tf; from fewgen_tf import distribute; "
            "distribute.set_threads(1, 3); tf.constant(1.0) + 1; "
            "distribute.set_threads(2, 3); "  # too late: warned, not raised
            "print(tf.config.threading.get_intra_op_parallelism_threads(), "
            "tf.config.threading.get_inter_op_parallelism_threads())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1", "3"]
    assert "intra_op_threads=2 ignored: TensorFlow's runtime is already initialised" \
        in result.stderr
    with pytest.raises(ConfigError, match="inter_op_threads must be an int >= 0"):
        distribute.set_threads(0, -2)


_MIRRORED = {"distribute": "mirrored", "cpu_devices": 2}
_TINY = ("--config=configs/quickstart.py",) + tiny_configs.flags(
    tiny_configs.QUICKSTART_META, {"meta.iterations": 4, "generator.epochs": 1}, _MIRRORED)


@pytest.mark.slow  # an end-to-end pipeline run
@pytest.mark.parametrize("pipeline,options", [
    ("supervised", ("--config.meta.algorithm=maml", "--config.meta.inner_steps=1",
                    "--config.intra_op_threads=1", "--config.inter_op_threads=3")),
    ("supervised", ("--config.meta.algorithm=fomaml", "--config.meta.inner_steps=1")),
    ("supervised", ("--config.meta.algorithm=protonets",)),
    ("supervised", ("--config.meta.algorithm=reptile", "--config.meta.inner_steps=1")),
    ("supervised", ("--config.meta.algorithm=scratch", "--config.meta.scratch_steps=2")),
    ("lasium", ("--config.generator.name=vae",)),
    ("lasium", ("--config.generator.name=msgan", "--config.generator.latent_dim=16")),
], ids=["maml", "fomaml", "protonets", "reptile", "scratch", "lasium_vae", "lasium_msgan"])
def test_every_pipeline_trains_under_mirrored_through_the_cli(pipeline, options, tmp_path):
    """End to end through the CLI on 2 logical CPU devices: optimizers (one, or a GAN's
    two) are built under the strategy, checkpoints are written, the run evaluates."""
    from cli_test import _main

    result = _main(*_TINY, f"--config.pipeline={pipeline}", *options, f"--workdir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy with 2 replica(s)" in result.stderr
    if "--config.intra_op_threads=1" in options:  # thread pools sized before the devices
        assert "intra_op_threads: 1" in result.stderr and "inter_op_threads: 3" in result.stderr
    assert (tmp_path / "eval.json").exists()
    if "scratch" not in options[0]:
        assert any((tmp_path / "checkpoints").iterdir())


_TINY_AUGINTAE = ("--config=configs/augintae_omniglot.py",) + tiny_configs.flags(
    tiny_configs.GLYPHS_16, tiny_configs.GEN_EVAL, tiny_configs.AUGINTAE,
    {"generator.epochs": 2}, _MIRRORED)


_TINY_META_FAVAE = ("--config=configs/meta_favae_omniglot.py",) + tiny_configs.flags(
    tiny_configs.GLYPHS_16, tiny_configs.GEN_EVAL, tiny_configs.META_FAVAE,
    {"generator.iterations": 2, "meta_favae.grid_classes": 0}, _MIRRORED)


@pytest.mark.slow  # end-to-end pipeline runs
def test_augintae_and_meta_favae_train_under_mirrored(tmp_path):
    """AugIntAE (an adversarial autoencoder with synchronised BatchNorm and per-replica
    augmentation seeds) and Meta-FAVAE (its meta-batch of tasks spread over the replicas)
    train end to end under `mirrored`; a meta-batch the replicas cannot share stops with
    a message instead of silently ignoring the strategy."""
    from cli_test import _main

    result = _main(*_TINY_AUGINTAE, f"--config.gen_eval.feature_cache={tmp_path / 'cache'}",
                   f"--workdir={tmp_path / 'augintae'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy with 2 replica(s)" in result.stderr
    assert (tmp_path / "augintae" / "gen_eval.json").exists()
    result = _main(*_TINY_META_FAVAE, "--config.meta_favae.meta_batch=2",
                   f"--config.gen_eval.feature_cache={tmp_path / 'cache'}",
                   f"--workdir={tmp_path / 'meta_favae'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy with 2 replica(s)" in result.stderr
    assert (tmp_path / "meta_favae" / "gen_eval.json").exists()
    assert (tmp_path / "meta_favae" / "checkpoints" / "generator" / "ckpt-2.index").exists()
    result = _main(*_TINY_META_FAVAE, f"--workdir={tmp_path / 'refused_meta_favae'}")
    assert result.returncode != 0 and ("meta_favae.meta_batch = 1 tasks a meta-iteration "
                                       "cannot be spread over 2 replicas") in result.stderr
    assert "Traceback" not in result.stderr


_COLA_ON_GLYPHS = {"cola.num_clusters": 2, "cola.eval_subset": ""}
_TINY_COLA = {
    "cola": ("--config=configs/cola_mnist.py:cola",) + tiny_configs.flags(
        tiny_configs.TWO_GLYPHS, tiny_configs.COLA, tiny_configs.COLA_EVAL,
        tiny_configs.COLA_STEP_ONE, _COLA_ON_GLYPHS, {"cola.rotnet": False}, _MIRRORED),
    "scola": ("--config=configs/scola_mnist.py",) + tiny_configs.flags(
        tiny_configs.TWO_GLYPHS, tiny_configs.COLA, tiny_configs.COLA_EVAL, _COLA_ON_GLYPHS,
        _MIRRORED),
    "small_sample": ("--config=configs/small_sample_mnist.py",) + tiny_configs.flags(
        tiny_configs.SMALL_SAMPLE, {"cola.num_clusters": 2, "small_sample.spc": (2,),
                                    "small_sample.draws": 1}, _MIRRORED),
    # LASIUM's best: COLA trained inline (its refinement included), then ProtoNets
    "lasium_best": ("--config=configs/lasium_omniglot.py:best",) + tiny_configs.flags(
        tiny_configs.GLYPHS_16, tiny_configs.QUICKSTART_META, tiny_configs.COLA,
        tiny_configs.COLA_STEP_ONE,
        {"cola.num_clusters": 8, "cola.refine_epoch": 1, "cola.mixture_rank": 2,
         "meta.iterations": 4, "train.ways": 5, "eval.queries": 5,
         "export.enabled": False}, _MIRRORED),
}


@pytest.mark.slow  # end-to-end pipeline runs
@pytest.mark.parametrize("pipeline", sorted(_TINY_COLA))
def test_cola_pipelines_train_under_mirrored_through_the_cli(pipeline, tmp_path):
    """COLA (step I's matching over the global batch), sCOLA, the small-sample experiment
    and LASIUM's best (COLA inline, then ProtoNets) end to end under `mirrored` on 2
    logical CPUs."""
    from cli_test import _main

    result = _main(*_TINY_COLA[pipeline], f"--config.gen_eval.feature_cache={tmp_path / 'c'}",
                   f"--workdir={tmp_path / pipeline}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy with 2 replica(s)" in result.stderr
    done = {"small_sample": "small_sample.json", "lasium_best": "eval.json"}.get(
        pipeline, "gen_eval.json")
    assert (tmp_path / pipeline / done).exists()


_RESUME = ("--config=configs/quickstart.py", "--config.pipeline=supervised",
           "--config.meta.algorithm=maml", "--config.meta.inner_steps=1",
           "--config.meta.meta_batch_size=2", "--config.meta.filters=8",
           "--config.train.steps_per_epoch=2", "--config.train.val_tasks=0",
           "--config.eval.num_tasks=2", "--config.eval.inner_steps=1",
           "--config.data.num_classes=40", "--config.export.enabled=false")
_STRATEGY = {"mirrored": ("--config.distribute=mirrored", "--config.cpu_devices=2"),
             "default": ("--config.distribute=default",)}


def _checkpoint(directory, step, phase=""):
    path = str(directory / "checkpoints" / phase / f"ckpt-{step}")
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


@pytest.mark.slow  # four CLI runs: 43 s to 100 s on 2 shared cores
def test_checkpoints_restore_across_strategies(tmp_path):
    """A MAML run checkpointed under `mirrored` (2 logical CPUs, in a fresh CLI process)
    resumes under `default`, and one checkpointed under `default` resumes under
    `mirrored`: the same variable names (optimizer slots included) in both kinds of
    checkpoint, and both orders reach the same weights after 4 steps (each step equals
    one device's to 1e-5, so a lost or misplaced variable would show)."""
    from cli_test import _main

    runs = {}
    for first, second in (("mirrored", "default"), ("default", "mirrored")):
        workdir = tmp_path / f"{first}_then_{second}"
        result = _main(*_RESUME, *_STRATEGY[first], "--config.meta.iterations=2",
                       f"--workdir={workdir}")
        assert result.returncode == 0, result.stderr[-3000:]
        after_two = _checkpoint(workdir, 2)
        result = _main(*_RESUME, *_STRATEGY[second], "--config.meta.iterations=4",
                       f"--workdir={workdir}")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "ckpt-2 at step 2" in result.stderr  # resumed, not restarted
        runs[first] = after_two, _checkpoint(workdir, 4)
    (mirrored_2, mirrored_then_default_4), (default_2, default_then_mirrored_4) = (
        runs["mirrored"], runs["default"])
    assert mirrored_2.keys() == default_2.keys()
    assert any("optimizer" in name for name in mirrored_2)
    for name in default_2:
        np.testing.assert_allclose(mirrored_2[name], default_2[name], atol=1e-5, rtol=1e-4,
                                   err_msg=name)
        np.testing.assert_allclose(mirrored_then_default_4[name], default_then_mirrored_4[name],
                                   atol=1e-5, rtol=1e-4, err_msg=name)
    moved = max(np.abs(default_then_mirrored_4[n] - default_2[n]).max()
                for n in default_2 if "trainable_variables" in n)  # the weights
    assert moved > 1e-4  # the resumed steps trained


def _meta_favae_steps(strategy, steps=2):
    """Two meta-iterations of a tiny Meta-FAVAE (meta-batch 4) built under `strategy`,
    fitted as the pipeline fits it: the global batch of tasks split among replicas."""
    import keras

    from fewgen_tf.data import synthetic
    from fewgen_tf.methods.meta_favae import model as meta_favae

    glyphs = synthetic.make_synthetic(8, 4, 16, seed=0).images.reshape(8, 4, 16, 16, 1)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = meta_favae.build_meta_favae(
            (16, 16, 1), 4, 4, 1 / 16,
            meta_favae.default_settings(rounds=2, vae_steps=2, d_steps=1, g_steps=2), seed=3)
        meta_favae.compile_meta_favae(model, outer_vae_lr=1e-3, outer_gan_lr=1e-3)
        model.build_optimizers()
    tasks = tf.data.Dataset.from_tensor_slices(glyphs.astype(np.float32)).batch(
        4, drop_remainder=True)
    history = model.fit(tasks, epochs=1, steps_per_epoch=steps, verbose=0)
    return ([v.numpy() for v in model.trainable_variables],
            {k: v[-1] for k, v in history.history.items()})


def test_mirrored_meta_favae_steps_equal_single_device_steps(mirrored):
    """Meta-FAVAE's meta-batch spread over 2 replicas (2 tasks each, every task seeded by
    its global index, the replicas' shares of mean(Phi2 - Phi1) summed by the outer
    Adams) steps like one device adapting all 4 tasks."""
    from fewgen_tf.methods.meta_favae import model as meta_favae

    single, single_logs = _meta_favae_steps(tf.distribute.get_strategy())
    replicated, replicated_logs = _meta_favae_steps(mirrored)
    with tf.distribute.get_strategy().scope():
        import keras
        keras.utils.set_random_seed(0)
        initial = meta_favae.build_meta_favae(
            (16, 16, 1), 4, 4, 1 / 16,
            meta_favae.default_settings(rounds=2, vae_steps=2, d_steps=1, g_steps=2), seed=3)
    moved = max(np.abs(a - v.numpy()).max() for a, v in zip(single, initial.trainable_variables))
    assert moved > 1e-4
    assert len(single) == len(replicated) == len(initial.trainable_variables)
    for a, b in zip(replicated, single):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
    for name in single_logs:
        np.testing.assert_allclose(replicated_logs[name], single_logs[name], rtol=1e-3,
                                   err_msg=name)


def _cola_steps(distribute_name, tmp_path):
    """COLA steps I (no RotNet, balanced refinement from the third epoch) and II of a tiny
    config on 32 glyphs, the global batch of 8 split among the replicas of
    `distribute_name`: (step I's encoder weights and assignment, step II's weights and
    codes)."""
    from fewgen_tf.data import synthetic
    from fewgen_tf.methods.cola import stages
    from fewgen_tf.methods.cola.config import add_cola

    config = add_cola(base_config(), "cola", num_clusters=4)
    tiny_configs.apply(config, tiny_configs.COLA, tiny_configs.COLA_STEP_ONE,
                       {"cola.rotnet": False, "cola.cluster_epochs": 4,
                        "cola.refine_epoch": 2, "cola.refine_method": "balanced",
                        "generator.epochs": 2, "distribute": distribute_name})
    images = synthetic.make_synthetic(4, 8, 16, seed=0).images
    clustering, _ = stages.cluster_images(config, str(tmp_path / distribute_name), images)
    class_parts = clustering.targets.numpy()[clustering.assignment.numpy()]
    model, _ = stages.train_codes(config, str(tmp_path / distribute_name), images,
                                  class_parts)
    return ([v.numpy() for v in clustering.weights], [v.numpy() for v in model.weights])


def test_mirrored_cola_steps_equal_single_device_steps(mirrored, tmp_path):
    """Step I's matching over the GLOBAL batch (gathered embeddings, the global batch's
    augmentations, the new assignment written alike by every replica), synchronised
    BatchNorm, step II's codes and generator: 2 replicas train like one device."""
    single_one, single_two = _cola_steps("default", tmp_path)
    mirrored_one, mirrored_two = _cola_steps("mirrored", tmp_path)
    # (float sums in another order, through 16 SGD-with-momentum steps: measured 2.8e-4
    # at most, where the weights moved by more than 0.05)
    for single, replicated in ((single_one, mirrored_one), (single_two, mirrored_two)):
        assert len(single) == len(replicated)
        for a, b in zip(replicated, single):
            if a.dtype.kind == "i":  # step I's assignment and components
                np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-3)


_KILLED_META_FAVAE = _TINY_META_FAVAE + ("--config.meta_favae.meta_batch=2",
                                         "--config.generator.iterations=8",
                                         "--config.meta_favae.evaluate=false",
                                         "--config.export.enabled=false")


@pytest.mark.slow  # three CLI runs
def test_a_killed_mirrored_run_resumes_to_the_uninterrupted_weights(tmp_path):
    """Meta-FAVAE under `mirrored` (its meta-batch over 2 replicas), SIGKILLed once its
    second checkpoint exists, then the same command: the final checkpoint equals an
    uninterrupted mirrored run's, bit for bit."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from cli_test import _main
    from conftest import REPO_ROOT

    reference = _main(*_KILLED_META_FAVAE, f"--workdir={tmp_path / 'reference'}")
    assert reference.returncode == 0, reference.stderr[-3000:]
    workdir = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "fewgen_tf.main", *_KILLED_META_FAVAE, f"--workdir={workdir}"],
        cwd=REPO_ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = workdir / "checkpoints" / "generator" / "ckpt-4.index"
    deadline = time.monotonic() + 300
    while not second.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert second.exists() and not (workdir / "checkpoints" / "generator"
                                    / "ckpt-8.index").exists()
    resumed = _main(*_KILLED_META_FAVAE, f"--workdir={workdir}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    expected = _checkpoint(tmp_path / "reference", 8, phase="generator")
    found = _checkpoint(workdir, 8, phase="generator")
    assert expected.keys() == found.keys()
    for name in expected:
        np.testing.assert_array_equal(found[name], expected[name], err_msg=name)
