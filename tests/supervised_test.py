"""The supervised pipeline end to end: training, resume, determinism, evaluation, export."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf import export, pipelines, training, workdir as workdir_lib
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.data import episodes, registry
from fewgen_tf.meta import factory


def _tiny_config(algorithm="protonets"):
    config = add_meta_learning(base_config(), algorithm)
    config.pipeline = "supervised"
    config.data.num_classes = 40
    config.data.images_per_class = 10
    config.meta.filters = 8
    config.meta.iterations = 6
    config.meta.inner_steps = 1
    config.train.queries = 2
    config.train.steps_per_epoch = 2
    config.train.val_tasks = 8
    config.eval.num_tasks = 12
    config.eval.queries = 3
    config.eval.inner_steps = 3
    config.meta.scratch_steps = 3
    return config


def _train_stream(config):
    parts = registry.load_splits(config.data)

    def make(start_step):
        return episodes.episode_dataset(parts["train"], 5, 1, 2, config.seed, "train",
                                        start=start_step * config.meta.meta_batch_size,
                                        meta_batch_size=config.meta.meta_batch_size)
    return make


class _KillAt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.step:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.slow  # an end-to-end pipeline run
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    config = _tiny_config()
    make = _train_stream(config)
    reference = factory.build_learner(config, (28, 28, 1))
    training.fit_resumable(reference, make, 6, 2, str(tmp_path / "reference"), verbose=0)

    run_dir = str(tmp_path / "killed")
    killed = factory.build_learner(config, (28, 28, 1))
    try:
        training.fit_resumable(killed, make, 6, 2, run_dir, verbose=0, callbacks=[_KillAt(5)])
        raise AssertionError("the simulated kill did not happen")
    except KeyboardInterrupt:
        pass
    assert [r["step"] for r in workdir_lib.read_metrics(run_dir)] == [2, 4]
    resumed = factory.build_learner(config, (28, 28, 1))  # a new process, in effect
    assert training.fit_resumable(resumed, make, 6, 2, run_dir, verbose=0) == 6
    assert [r["step"] for r in workdir_lib.read_metrics(run_dir)] == [2, 4, 6]
    for a, b in zip(reference.net.trainable_variables, resumed.net.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_pipeline_is_deterministic_and_writes_the_workdir(tmp_path):
    config = _tiny_config()
    first = pipelines.run(config, str(tmp_path / "a"))
    second = pipelines.run(config, str(tmp_path / "b"))
    assert first["mean"] == second["mean"] and first["n"] == 12
    on_disk = json.loads((tmp_path / "a" / "eval.json").read_text())
    assert {k: on_disk[k] for k in ("ways", "shots", "queries", "seed", "n", "iterations")} == \
        {"ways": 5, "shots": 1, "queries": 3, "seed": 42, "n": 12, "iterations": 6}
    assert 0.0 <= on_disk["ci95"] < 0.5
    records = workdir_lib.read_metrics(str(tmp_path / "a"))
    assert [r["step"] for r in records] == [2, 4, 6]
    assert all("val_accuracy" in r and "loss" in r for r in records)
    assert os.listdir(tmp_path / "a" / "tensorboard")
    assert (tmp_path / "a" / "checkpoints" / "best" / "weights.index").exists()
    assert (tmp_path / "a" / "export" / "classifier" / "1" / "saved_model.pb").exists()
    # Re-running a finished workdir trains nothing more and evaluates the same.
    again = pipelines.run(config, str(tmp_path / "a"))
    assert again["mean"] == first["mean"] and again["iterations"] == 6
    assert "transductive_steps" not in on_disk
    # ... and with a ProtoNets test-time option it re-evaluates the same weights with
    # it, eval.json saying so (a transductive accuracy is labelled as one).
    config.meta.transductive_steps = 2
    refined = pipelines.run(config, str(tmp_path / "a"))
    assert refined["iterations"] == 6 and refined["transductive_steps"] == 2
    assert json.loads((tmp_path / "a" / "eval.json").read_text())["transductive_steps"] == 2


def test_scratch_baseline_runs_without_meta_training(tmp_path):
    config = _tiny_config("scratch")
    result = pipelines.run(config, str(tmp_path))
    assert result["algorithm"] == "scratch" and result["iterations"] == 0
    assert not (tmp_path / "checkpoints").exists()


_LOAD_AND_CLASSIFY = """
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2])
out = model.signatures["classify"](support_images=tf.constant(inputs["support_images"]),
                                   support_labels=tf.constant(inputs["support_labels"]),
                                   query_images=tf.constant(inputs["query_images"]))
print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
print("fewgen_tf imported:", "fewgen_tf" in sys.modules, file=sys.stderr)
"""


def test_exported_classifier_serves_without_fewgen_tf(tmp_path):
    for algorithm in ("maml", "protonets"):
        config = _tiny_config(algorithm)
        learner = factory.build_learner(config, (28, 28, 1))
        path = export.export_classifier(learner, str(tmp_path / algorithm / "1"))
        parts = registry.load_splits(config.data)
        episode = episodes.sample_episode(parts["test"], 5, 1, 3, 42, "test", 0)
        np.savez(tmp_path / "inputs.npz", **episode)
        result = subprocess.run(
            [sys.executable, "-c", _LOAD_AND_CLASSIFY, path, str(tmp_path / "inputs.npz")],
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        assert result.returncode == 0, result.stderr[-2000:]
        assert "fewgen_tf imported: False" in result.stderr
        served = json.loads(result.stdout.strip().splitlines()[-1])
        weights, non_trainable = learner.current_weights()
        in_process = tf.function(learner.task_logits)(
            weights, non_trainable, episode["support_images"], episode["support_labels"],
            episode["query_images"], False).numpy()
        np.testing.assert_allclose(served["logits"], in_process, rtol=1e-4, atol=1e-4)
        assert served["predictions"] == in_process.argmax(-1).tolist()

    # The interpreter that runs the tests, not `saved_model_cli` from PATH: a virtual
    # environment's tools are not on PATH unless it is activated.
    shown = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli",
                            "show", "--dir", str(tmp_path / "maml" / "1"),
                            "--tag_set", "serve", "--signature_def", "classify"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in ("support_images", "support_labels", "query_images", "logits", "predictions"):
        assert f"['{name}']" in shown.stdout
