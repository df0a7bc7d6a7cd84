"""One run per workdir: a second run on a workdir in use is refused at start-up with one
line naming the holder and touches none of its files; a SIGKILLed holder leaves no stale
lock (tested with real processes)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, tree_snapshot
from fewgen_tf import pipelines, workdir_lock
from fewgen_tf.config import add_preview, base_config
from fewgen_tf.errors import ConfigError

_HOLD = ("import sys, time\n"
         "from fewgen_tf.workdir_lock import WorkdirLock\n"
         "lock = WorkdirLock(sys.argv[1]).acquire()\n"
         "print('held', flush=True)\n"
         "time.sleep(300)\n")


def _preview_config():
    config = add_preview(base_config())
    config.data.num_classes, config.preview.num_episodes = 30, 1
    return config


def _holder(workdir):
    """A real process holding `workdir`'s lock (it sleeps until killed)."""
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(workdir)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_naming_the_holder_and_a_killed_holder_leaves_no_lock(
        tmp_path):
    workdir = tmp_path / "run"
    pipelines.run(_preview_config(), str(workdir))  # a finished run's files
    before = tree_snapshot(workdir)
    holder = _holder(workdir)
    try:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        started = time.time()
        result = subprocess.run(
            [sys.executable, "-m", "fewgen_tf.main", "--config=configs/quickstart.py",
             f"--workdir={workdir}", "--config.pipeline=preview"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode != 0
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"fewgen_tf: error: workdir {workdir} is in use by another "
                               f"run (pid {holder.pid} on ")
        assert "Traceback" not in result.stderr
        assert time.time() - started < 60  # refused at start-up, nothing trained
        assert tree_snapshot(workdir) == before
        with pytest.raises(ConfigError, match="is in use by another run"):  # in-process too
            pipelines.run(_preview_config(), str(workdir))
        assert tree_snapshot(workdir) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    pipelines.run(_preview_config(), str(workdir))  # the kernel dropped the dead holder's lock


def test_the_lock_names_the_workdir_by_its_real_path(tmp_path):
    (tmp_path / "run").mkdir()
    os.symlink(tmp_path / "run", tmp_path / "link")
    assert (workdir_lock.lock_path(str(tmp_path / "link"))
            == workdir_lock.lock_path(str(tmp_path / "run" / ".." / "run")))
    with workdir_lock.WorkdirLock(str(tmp_path / "run")):
        with pytest.raises(ConfigError, match="in use by another run"):
            workdir_lock.WorkdirLock(str(tmp_path / "link")).acquire()
    with workdir_lock.WorkdirLock(str(tmp_path / "link")):  # released on leaving
        pass


def test_an_empty_workdir_is_refused_before_anything_runs():
    with pytest.raises(ConfigError, match="--workdir is empty"):
        pipelines.run(_preview_config(), "")
    with pytest.raises(ConfigError, match="--workdir is empty"):
        pipelines.run(_preview_config(), "  ")
