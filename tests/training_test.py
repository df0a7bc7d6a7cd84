"""fit_resumable's hardening: unreadable newest checkpoints, diverging losses."""

import glob
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf import training, workdir as workdir_lib
from fewgen_tf.errors import TrainingError


class _Regression(keras.Model):
    """y = w x fitted by SGD: tiny, deterministic, and its loss can be made NaN."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, kernel_initializer="zeros")
        self.dense.build((None, 1))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, batch):
        x, y = batch
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.dense(x) - y))
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def _model():
    model = _Regression()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


def _data(nan_from_step=None):
    def make(start):
        x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(-1, 1)
        y = 3 * x
        if nan_from_step is not None:
            y = np.where(np.arange(64)[:, None] >= nan_from_step * 8, np.nan, y)
        data = tf.data.Dataset.from_tensor_slices((x, y.astype(np.float32))).batch(8)
        return data.repeat().skip(start)
    return make


def _fit(workdir, steps, make=None):
    model = _model()
    training.fit_resumable(model, make or _data(), steps, 2, str(workdir), verbose=0)
    return model


def test_a_truncated_newest_checkpoint_resumes_from_the_one_before(tmp_path, caplog):
    _fit(tmp_path, 6)  # checkpoints at steps 2, 4, 6
    for path in glob.glob(str(tmp_path / "checkpoints" / "ckpt-6.data-*")):
        with open(path, "r+b") as f:  # a write cut short by a kill
            f.truncate(os.path.getsize(path) // 3)
    resumed = _fit(tmp_path, 8)
    assert int(resumed.optimizer.iterations.numpy()) == 8  # from step 4, not from 0
    assert "cannot be read" in caplog.text and "older checkpoint" in caplog.text
    # step 6 ran twice; metrics.jsonl keeps one line of it, the resumed run's
    assert [r["step"] for r in workdir_lib.read_metrics(str(tmp_path))] == [2, 4, 6, 8]
    for path in glob.glob(str(tmp_path / "checkpoints" / "ckpt-*.index")):
        with open(path, "wb") as f:
            f.write(b"garbage")
    with pytest.raises(TrainingError, match="none of the checkpoints in .*checkpoints can be "
                                            "read"):
        _fit(tmp_path, 12)


def test_a_diverging_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(TrainingError, match=r"training diverged: loss is nan at step 5; the "
                                            r"last good checkpoint is kept in"):
        _fit(tmp_path, 8, _data(nan_from_step=4))  # batch 5 of the stream has NaN targets
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-4")
    model = _model()
    tf.train.Checkpoint(model=model).restore(
        tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))).expect_partial()
    assert np.all(np.isfinite(model.dense.kernel.numpy()))


class _MaskedLoss(_Regression):
    """Logs 0 where its loss is NaN, as ReLU / max-pool networks effectively do (ProtoNets
    with a NaN learning rate logged exactly ln 5 over NaN weights)."""

    def train_step(self, batch):
        logs = super().train_step(batch)
        loss = logs["loss"]
        return {"loss": tf.where(tf.math.is_finite(loss), loss, tf.zeros_like(loss))}


def test_non_finite_weights_stop_training_even_when_the_loss_looks_finite(tmp_path):
    model = _MaskedLoss()
    model.compile(optimizer=keras.optimizers.SGD(float("nan")))
    with pytest.raises(TrainingError, match=r"training diverged: a trainable weight is NaN or "
                                            r"infinite at step 1; no checkpoint had been "
                                            r"written yet"):
        training.fit_resumable(model, _data(), 8, 2, str(tmp_path), verbose=0)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")) is None


def test_metrics_survive_an_append_cut_short_by_a_kill(tmp_path):
    from fewgen_tf import workdir as workdir_lib
    workdir_lib.append_metrics(str(tmp_path), {"step": 1})
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 2, "lo')  # the kill lands mid-write
    workdir_lib.append_metrics(str(tmp_path), {"step": 3})
    assert [r["step"] for r in workdir_lib.read_metrics(str(tmp_path))] == [1, 3]
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 3  # no blank lines


def test_result_files_are_replaced_whole(tmp_path):
    from fewgen_tf import workdir as workdir_lib
    path = str(tmp_path / "eval.json")
    workdir_lib.write_json(path, {"mean": 0.5})
    workdir_lib.write_json(path, {"mean": 0.75})
    assert json.loads((tmp_path / "eval.json").read_text()) == {"mean": 0.75}
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]  # no temporary left


def test_torn_writes_of_a_killed_run_are_removed_and_nothing_else(tmp_path):
    """The leftovers tools/kill_resume.py found after SIGKILLs (names as TensorFlow
    and this library write them) go; checkpoints, results and a dead process's
    look-alikes that are real files stay."""
    from fewgen_tf import workdir as workdir_lib
    ckpt = tmp_path / "checkpoints" / "generator"
    (ckpt / "ckpt-7_temp").mkdir(parents=True)
    (ckpt / "ckpt-7_temp" / "part-00000-of-00001.data-00000-of-00001.tempstate69385893").write_text("x")
    (ckpt / "ckpt-6.index").write_text("kept")
    (ckpt / "checkpoint").write_text("kept")
    (ckpt / f"checkpoint.tmp{'a' * 32}").write_text("x")
    (tmp_path / "eval.json.partial-999999").write_text("{")
    (tmp_path / "export" / "classifier" / "1.partial-999999").mkdir(parents=True)
    (tmp_path / "export" / "classifier" / "1").mkdir()
    (tmp_path / "my_temp").mkdir()  # a user's directory: not a checkpoint shard dir
    (tmp_path / "my_temp" / "notes.txt").write_text("kept")
    removed = workdir_lib.remove_torn_writes(str(tmp_path))
    assert sorted(os.path.relpath(p, tmp_path) for p in removed) == sorted([
        "checkpoints/generator/ckpt-7_temp", f"checkpoints/generator/checkpoint.tmp{'a' * 32}",
        "eval.json.partial-999999", "export/classifier/1.partial-999999"])
    left = sorted(os.path.relpath(os.path.join(d, f), tmp_path)
                  for d, _, files in os.walk(tmp_path) for f in files)
    assert left == ["checkpoints/generator/checkpoint", "checkpoints/generator/ckpt-6.index",
                    "my_temp/notes.txt"]
    assert (tmp_path / "export" / "classifier" / "1").is_dir()
    assert workdir_lib.remove_torn_writes(str(tmp_path / "absent")) == []


def test_a_directory_is_replaced_whole_or_not_at_all(tmp_path):
    from fewgen_tf import workdir as workdir_lib
    path = str(tmp_path / "export" / "generator" / "1")

    def writer(text):
        def write(directory):
            os.makedirs(directory)
            with open(os.path.join(directory, "saved_model.pb"), "w") as f:
                f.write(text)
        return write

    workdir_lib.replace_directory(writer("old"), path)
    workdir_lib.replace_directory(writer("new"), path)
    assert open(os.path.join(path, "saved_model.pb")).read() == "new"

    def failing(directory):
        writer("half")(directory)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        workdir_lib.replace_directory(failing, path)
    assert open(os.path.join(path, "saved_model.pb")).read() == "new"  # untouched
    assert os.listdir(tmp_path / "export" / "generator") == ["1"]  # no temporary left


def test_drop_metrics_after_keeps_other_phases_and_records_without_a_step(tmp_path):
    records = [{"split": "train"}, {"step": 2}, {"step": 4}, {"step": 4, "phase": "generator"},
               {"step": 6, "phase": "generator"}, {"step": 6}]
    for record in records:
        workdir_lib.append_metrics(str(tmp_path), record)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 8, "lo')  # an append a kill cut short
    assert workdir_lib.drop_metrics_after(str(tmp_path), "generator", 4) == 1
    assert workdir_lib.drop_metrics_after(str(tmp_path), None, 2) == 2
    kept = [{k: v for k, v in r.items() if k != "time"}
            for r in workdir_lib.read_metrics(str(tmp_path))]
    assert kept == [{"split": "train"}, {"step": 2}, {"step": 4, "phase": "generator"}]
    workdir_lib.append_metrics(str(tmp_path), {"step": 4})  # starts on a line of its own
    assert workdir_lib.read_metrics(str(tmp_path))[-1]["step"] == 4
    assert workdir_lib.drop_metrics_after(str(tmp_path / "absent"), None, 0) == 0


def test_a_run_summary_record_is_appended_once(tmp_path):
    """A rerun of a finished run computes its task sampler's statistics again: the same
    record (time aside) is not appended a second time; a different one is."""
    record = {"phase": "task_sampler", "tasks": 50, "anchor_resamples_mean": 0.0}
    assert workdir_lib.append_metrics_once(str(tmp_path), record)
    assert not workdir_lib.append_metrics_once(str(tmp_path), dict(record))
    assert workdir_lib.append_metrics_once(str(tmp_path), dict(record, tasks=51))
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["tasks"] for line in lines] == [50, 51]
    assert all("time" in line for line in lines)
