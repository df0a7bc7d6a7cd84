"""The command line end to end: flags, configs, overrides, errors, workdir contents."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT
from fewgen_tf import pipelines, workdir as workdir_lib
from fewgen_tf.errors import ConfigError


def _main(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "fewgen_tf.main", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def _load_config(name, variant=None):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "configs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant) if variant else module.get_config()


def test_quickstart_preview_with_override(tmp_path):
    result = _main("--config=configs/quickstart.py", f"--workdir={tmp_path}",
                   "--config.pipeline=preview", "--config.data.num_classes=60",
                   "--config.eval.ways=3", "--config.preview.num_episodes=1")
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["pipeline"] == "preview" and config["eval"]["ways"] == 3
    records = workdir_lib.read_metrics(str(tmp_path))
    assert [r["split"] for r in records] == ["train", "val", "test"]
    assert records[0]["classes"] == 36 and records[0]["image_shape"] == [28, 28, 1]
    png = tf.io.decode_png(tf.io.read_file(str(tmp_path / "samples" / "episodes.png"))).numpy()
    # 2 episodes (1 train + 1 test) of 3 class rows of 28-px images with 2-px gaps, 6-px band.
    assert png.shape[0] == 2 * (3 * 30 + 2) + 6
    assert png.std() > 20  # an actual picture, not a blank


def test_quickstart_lasium_main_job_on_a_tiny_budget(tmp_path):
    result = _main("--config=configs/quickstart.py", f"--workdir={tmp_path}",
                   "--config.meta.iterations=4", "--config.train.steps_per_epoch=2",
                   "--config.train.val_tasks=8", "--config.eval.num_tasks=16",
                   "--config.meta.filters=16", "--config.generator.epochs=1",
                   "--config.data.num_classes=40")
    assert result.returncode == 0, result.stderr[-2000:]
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    assert evaluation["n"] == 16 and evaluation["algorithm"] == "protonets"
    assert evaluation["mean"] > 0.3  # 5-way: chance is 0.2; even 4 steps of training help
    for name in ("classifier", "generator", "task_sampler"):
        assert (tmp_path / "export" / name / "1" / "saved_model.pb").exists()
    assert (tmp_path / "samples" / "tasks.png").exists()
    assert "test accuracy" in result.stderr
    # the comparison on the same test tasks, printed and written (summary.json)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["rows"]) == ["lasium", "untrained"] and summary["tasks"]["n"] == 16
    assert summary["rows"]["lasium"]["mean"] == evaluation["mean"]
    assert "supervised_baseline=True" in summary["not_run"]["supervised"]
    assert "lasium - untrained: " in result.stderr
    # the stages, numbered, each with its duration
    for number, stage in enumerate(["generator", "task generation", "meta-training",
                                    "evaluation", "export"], 1):
        assert f"[{number}/5] {stage}: done in " in result.stderr


def test_misspelt_key_and_bad_variant_fail_with_a_suggestion(tmp_path):
    result = _main("--config=configs/quickstart.py", f"--workdir={tmp_path}",
                   "--config.eval.wayz=3")
    assert result.returncode != 0
    assert 'Did you mean "ways" instead of "wayz"?' in result.stderr
    assert "Traceback" not in result.stderr
    result = _main("--config=configs/quickstart.py", f"--workdir={tmp_path}",
                   "--config.meta.inner_steps=abc")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert ("--config.meta.inner_steps=abc: invalid literal for int() with base 10: 'abc'"
            in result.stderr)
    result = _main("--config=configs/preview_omniglot.py:lakes", f"--workdir={tmp_path}")
    assert result.returncode != 0 and "unknown variant 'lakes'" in result.stderr
    assert not (tmp_path / "config.json").exists()


def test_unknown_pipeline_and_dataset_list_the_valid_names(tmp_path):
    config = _load_config("quickstart")
    config.pipeline = "lasiumm"
    with pytest.raises(ConfigError, match="unknown pipeline 'lasiumm'; valid: augintae, cola, lasium, "
                                          "meta_favae, preview, scola, small_sample, "
                                          "supervised"):
        pipelines.run(config, str(tmp_path))
    result = _main("--config=configs/quickstart.py", f"--workdir={tmp_path}",
                   "--config.data.name=cifar")
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "fewgen_tf: error: unknown data.name 'cifar'; valid: cifar10, cifar100, folder, mnist, "
        "omniglot, synthetic")


def test_preview_on_real_omniglot_lasium(omniglot_dir, tmp_path):
    config = _load_config("preview_omniglot", "lasium")
    config.data.root = str(omniglot_dir.parent)
    stats = pipelines.run(config, str(tmp_path))
    assert {p: stats[p]["classes"] for p in stats} == {"train": 1200, "val": 100, "test": 323}
    assert (tmp_path / "samples" / "episodes.png").exists()


def test_preview_of_a_one_class_folder(celeba_dir, tmp_path):
    config = _load_config("preview_folder", "single")
    config.data.root = str(celeba_dir)
    config.data.image_size = 32
    stats = pipelines.run(config, str(tmp_path))
    assert stats["test"]["images"] == 32 and stats["test"]["image_shape"] == [32, 32, 3]
    png = tf.io.decode_png(tf.io.read_file(str(tmp_path / "samples" / "episodes.png"))).numpy()
    assert png.shape[-1] == 3 and np.asarray(png).std() > 20


def test_workdir_that_is_a_file_or_holds_another_setting_is_refused(tmp_path):
    as_file = tmp_path / "file"
    as_file.write_text("not a directory")
    result = _main("--config=configs/quickstart.py", f"--workdir={as_file}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(f"fewgen_tf: error: workdir {as_file} is a file, "
                                          "not a directory")
    config = _load_config("quickstart")
    config.pipeline, config.meta.iterations, config.eval.num_tasks = "supervised", 2, 4
    config.train.steps_per_epoch, config.train.val_tasks, config.meta.filters = 2, 0, 8
    pipelines.run(config, str(tmp_path / "run"))
    before = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    config_json = (tmp_path / "run" / "config.json").read_text()
    config.meta.algorithm = "maml"
    with pytest.raises(ConfigError, match=r"holds checkpoints of another setting "
                                          r"\(meta.algorithm: 'protonets' there, 'maml' now\)"):
        pipelines.run(config, str(tmp_path / "run"))
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == before
    assert (tmp_path / "run" / "config.json").read_text() == config_json


def test_a_resume_key_added_later_reads_its_former_value_from_older_workdirs(tmp_path,
                                                                          monkeypatch):
    """A resume key with its former value in the upgrade table (config_upgrades.ADDED): an
    older config.json without the key resumes when the key keeps its former value, and is
    refused otherwise."""
    from fewgen_tf import config_upgrades

    monkeypatch.setitem(config_upgrades.ADDED, "meta.new_key", 1)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    config = _load_config("quickstart")
    old = json.loads(config.to_json_best_effort())
    (run / "config.json").write_text(json.dumps(old))
    config.meta.new_key = 1  # a key the older run did not have
    keys = ("meta.new_key",)
    workdir_lib.check_resumable(str(run), config, keys)  # the same as before: resumes
    config.meta.new_key = 2
    with pytest.raises(ConfigError, match=r"meta.new_key: 1 there, 2 now"):
        workdir_lib.check_resumable(str(run), config, keys)


def test_an_interrupted_run_says_so_in_one_line_and_resumes(tmp_path):
    """Ctrl-C (SIGINT) during training: exit 130 with one line, no KeyboardInterrupt trace."""
    import signal
    import time

    workdir = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(
        [sys.executable, "-m", "fewgen_tf.main", "--config=configs/quickstart.py",
         f"--workdir={workdir}", "--config.pipeline=supervised", "--config.meta.iterations=100000",
         "--config.train.val_tasks=0", "--config.meta.filters=8", "--config.export.enabled=False"],
        cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (workdir / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == ("fewgen_tf: interrupted; the same command "
                                               "resumes from the last checkpoint")
    assert "Traceback" not in stderr


def test_changing_the_training_tasks_of_a_finished_workdir_is_refused(tmp_path):
    """train.shots / train.queries define what a meta-learner was trained on."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    config = _load_config("quickstart")
    (run / "config.json").write_text(config.to_json_best_effort())
    for key, value in (("shots", 5), ("queries", 1)):
        changed = _load_config("quickstart")
        changed.train[key] = value
        with pytest.raises(ConfigError, match=rf"train.{key}: {config.train[key]} there, "
                                              rf"{value} now"):
            workdir_lib.check_resumable(str(run), changed)
