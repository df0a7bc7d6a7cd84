"""`distribute = "multi_worker"` on a real tf.distribute cluster: two worker processes on
localhost (TF_CONFIG with two ports on 127.0.0.1) run the same CLI command on the same
workdir. Their trained weights (every variable of the final checkpoint, optimizer slots
included) and the exported classifier's outputs must equal a single-process run on the
same GLOBAL meta-batch, and only the chief may write the workdir: the other worker writes
its copies to a temporary directory of its own, removed when it finishes.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import tiny_configs
from conftest import REPO_ROOT

TIMEOUT_S = 420  # per run; the processes are killed when it passes

# MAML on the synthetic glyphs: 2 epochs of 2 meta-steps on a global meta-batch of 4
# episodes (2 per worker), selection on 2 validation tasks, 4 test tasks.
_TINY = ("--config=configs/quickstart.py", "--config.data.num_classes=40",
         "--config.meta.iterations=4", "--config.train.steps_per_epoch=2",
         "--config.train.val_tasks=2", "--config.eval.num_tasks=4",
         "--config.meta.filters=8", "--config.meta.meta_batch_size=4",
         "--config.generator.epochs=1")
_MAML = ("--config.pipeline=supervised", "--config.meta.algorithm=maml",
         "--config.meta.inner_steps=1", "--config.eval.inner_steps=2")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _env(tmp, tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TMPDIR=str(tmp))
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _run_all(commands, logs):
    """Start every (argv, env) at once, wait for all of them; on a failure or a timeout
    kill the others (by their own process ids) and fail with the logs' tails."""
    procs = []
    for (argv, env), log in zip(commands, logs):
        with open(log, "w") as out:
            procs.append(subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=out,
                                          stderr=subprocess.STDOUT))
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one failed: the others would wait for it forever
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    tails = "\n".join(f"--- {log} (rc {p.returncode})\n{pathlib.Path(log).read_text()[-3000:]}"
                      for p, log in zip(procs, logs))
    assert all(p.returncode == 0 for p in procs), tails
    return [pathlib.Path(log).read_text() for log in logs]


def _cli(*args):
    return [sys.executable, "-m", "fewgen_tf.main", *args]


def _cluster_run(tmp_path, workdir, args):
    """The same command on two workers; worker 0 is the chief."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    commands, logs = [], []
    for index in range(2):
        tmp = tmp_path / f"tmp{index}"
        tmp.mkdir()
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        commands.append((_cli(*args, "--config.distribute=multi_worker",
                              f"--workdir={workdir}"), _env(tmp, config)))
        logs.append(tmp_path / f"worker{index}.log")
    return _run_all(commands, logs)


def _single_run(tmp_path, workdir, args):
    tmp = tmp_path / "tmp_single"
    tmp.mkdir()
    return _run_all([(_cli(*args, "--config.distribute=default", f"--workdir={workdir}"),
                      _env(tmp))], [tmp_path / "single.log"])[0]


def _checkpoint_values(directory):
    path = tf.train.latest_checkpoint(str(directory))
    reader = tf.train.load_checkpoint(path)
    return path, {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
                  if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


def _files(workdir):
    """Relative paths of a workdir's files, TensorBoard event files (named after the host,
    pid and time) reduced to their folder."""
    names = set()
    for path in pathlib.Path(workdir).rglob("*"):
        if path.is_file():
            rel = path.relative_to(workdir)
            names.add(str(rel.parent / "events") if "tfevents" in rel.name else str(rel))
    return names


def _classify(workdir):
    loaded = tf.saved_model.load(str(pathlib.Path(workdir) / "export" / "classifier" / "1"))
    r = np.random.default_rng(3)
    out = loaded.classify(support_images=tf.constant(r.uniform(size=(5, 28, 28, 1)), tf.float32),
                          support_labels=tf.range(5, dtype=tf.int32),
                          query_images=tf.constant(r.uniform(size=(10, 28, 28, 1)), tf.float32))
    return out["logits"].numpy()


def _decode(workdir):
    """Images of the exported generator (the meta-weights' G) from fixed latents. (Not
    the few-shot `generate`: its 200-step fit to the seeds amplifies float noise of 1e-7
    in the weights to whole pixels.)"""
    loaded = tf.saved_model.load(str(pathlib.Path(workdir) / "export" / "generator" / "1"))
    latents = tf.constant(np.random.default_rng(3).normal(size=(4, 8)), tf.float32)
    return loaded.decode(latents=latents)["images"].numpy()


def _compare_with_single_process(tmp_path, args, phases, served=_classify, atol=1e-5):
    cluster_dir, single_dir = tmp_path / "cluster", tmp_path / "single"
    logs = _cluster_run(tmp_path, cluster_dir, args)
    assert "CollectiveAllReduceStrategy with 2 replica(s)" in logs[0]
    assert "CollectiveAllReduceStrategy with 2 replica(s)" in logs[1]
    _single_run(tmp_path, single_dir, args)

    # Only the chief wrote the workdir: exactly the files a single-process run writes,
    # each once; the other worker's temporary workdir is gone.
    assert _files(cluster_dir) == _files(single_dir)
    assert not any((tmp_path / "tmp1").iterdir()), list((tmp_path / "tmp1").iterdir())
    assert "writes to its temporary workdir" in logs[1]
    assert "temporary workdir" not in logs[0]

    differences = {}
    for phase in phases:
        sub = ("checkpoints", *([phase] if phase else []))
        path_c, cluster = _checkpoint_values(cluster_dir.joinpath(*sub))
        path_s, single = _checkpoint_values(single_dir.joinpath(*sub))
        assert os.path.basename(path_c) == os.path.basename(path_s)  # the same step
        assert cluster.keys() == single.keys()
        # (the weights sit under optimizer/_trainable_variables: the optimizer reaches
        # them first in the checkpoint's object graph; its Adam slots are compared too)
        assert sum("trainable_variables" in n for n in single) >= 8
        for name in single:
            np.testing.assert_allclose(cluster[name], single[name], atol=atol, rtol=1e-4,
                                       err_msg=f"{phase or 'meta'}: {name}")
        oldest = tf.train.get_checkpoint_state(str(single_dir.joinpath(*sub)))
        first = tf.train.load_checkpoint(oldest.all_model_checkpoint_paths[0])
        assert max(np.abs(first.get_tensor(n) - single[n]).max()
                   for n in single if "trainable_variables" in n) > 1e-4  # it trained
        differences[phase or "meta"] = max(
            float(np.max(np.abs(cluster[n].astype(np.float64) - single[n])))
            for n in single if "trainable_variables" in n)  # the weights
    outputs_c, outputs_s = served(cluster_dir), served(single_dir)
    np.testing.assert_allclose(outputs_c, outputs_s, atol=1e-5, rtol=1e-4)
    differences["exported outputs"] = float(np.max(np.abs(outputs_c - outputs_s)))
    if (single_dir / "eval.json").exists():
        eval_c = json.loads((cluster_dir / "eval.json").read_text())
        eval_s = json.loads((single_dir / "eval.json").read_text())
        assert eval_c == eval_s
    print("largest |multi-worker - single process| per phase:", differences)
    return differences


@pytest.mark.slow  # three CLI runs: 80 s to 155 s on 2 shared cores
def test_maml_on_two_workers_equals_one_process(tmp_path):
    _compare_with_single_process(tmp_path, (*_TINY, *_MAML), phases=[None])


# Meta-FAVAE at the tiny test size: 2 epochs of 2 meta-iterations on a meta-batch of 2 tasks
# (one per worker), no evaluation protocol.
_TINY_META_FAVAE = ("--config=configs/meta_favae_omniglot.py",) + tiny_configs.flags(
    tiny_configs.GLYPHS_16, tiny_configs.META_FAVAE,
    {"generator.iterations": 4, "meta_favae.meta_batch": 2, "meta_favae.grid_classes": 0,
     "meta_favae.evaluate": False})


@pytest.mark.slow  # three CLI runs
def test_meta_favae_on_two_workers_equals_one_process(tmp_path):
    """Each worker adapts its task of the meta-batch; the outer step sums their shares."""
    _compare_with_single_process(tmp_path, _TINY_META_FAVAE, phases=["generator"],
                                 served=_decode)


# COLA on 2 glyph classes at 16x16: step I without RotNet (its matching over the global
# batch of 8, 4 images a worker), step II, step III, no refinement (a discrete step whose
# near-ties float noise can flip); no generation protocol.
_TINY_COLA = ("--config=configs/cola_mnist.py:cola",) + tiny_configs.flags(
    tiny_configs.TWO_GLYPHS, tiny_configs.COLA, tiny_configs.COLA_EVAL,
    tiny_configs.COLA_STEP_ONE, {"cola.num_clusters": 2, "cola.eval_subset": "",
                                 "cola.rotnet": False})


def _sample(workdir):
    """Images of the exported COLA generator: a fixed seed, every cluster."""
    loaded = tf.saved_model.load(str(pathlib.Path(workdir) / "export" / "generator" / "1"))
    return np.concatenate([loaded.sample_class(class_index=tf.constant(c),
                                               num_images=tf.constant(3),
                                               seed=tf.constant(5, tf.int64))["images"].numpy()
                           for c in range(2)])


@pytest.mark.slow  # three CLI runs
def test_cola_on_two_workers_equals_one_process(tmp_path):
    """Step I's matching gathers the global batch across the workers; steps II-III."""
    # (1e-4: the generator's dense biases before BatchNorm have float-noise gradients,
    # which Adam turns into steps of random sign; measured 2.8e-5 after 6 steps)
    _compare_with_single_process(tmp_path, _TINY_COLA, phases=["cola_clustering",
                                                              "generator"], served=_sample,
                                 atol=1e-4)
