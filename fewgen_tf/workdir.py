"""The workdir contract: config.json, metrics.jsonl, samples/*.png, and friends.

Pipelines write through these helpers so every method's workdir looks the same:
  config.json      the resolved config of the run
  metrics.jsonl    one JSON object a line, each with a `step` (or `split`) and values
  eval.json        final few-shot accuracy (see fewgen_tf.metrics.fewshot)
  samples/*.png    pictures of data, tasks and generated images
"""

import json
import os
import re
import shutil
import time

import numpy as np

from fewgen_tf import config_upgrades


# Config values that define what a workdir's checkpoints ARE: resuming under other values
# would load weights of another shape or meaning (or fail deep inside TensorFlow).
# The shared keys; a method's own keys come from its generator's registry entry.
RESUME_DEFINING_KEYS = ("pipeline", "data.name", "data.image_size", "data.channels",
                        "meta.algorithm", "meta.backbone", "meta.filters", "train.ways",
                        "train.shots", "train.queries",
                        "generator.name", "generator.latent_dim")


def _lookup(tree, dotted):
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def finished_run_config(workdir: str, section: str, what: str):
    """The config (ml_collections.ConfigDict) of the finished run in `workdir`, read from
    its config.json and upgraded (`config_upgrades.upgrade`), for rebuilding what it
    trained; ConfigError without a config.json or
    without the `section` keys of `what` (e.g. "meta", "meta-learner")."""
    import ml_collections

    from fewgen_tf.errors import ConfigError

    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise ConfigError(f"{workdir} has no config.json: give the workdir of a finished run")
    with open(path) as f:
        config = ml_collections.ConfigDict(config_upgrades.upgrade(json.load(f), path))
    if section not in config:
        raise ConfigError(f"the run in {workdir} trained no {what} (no {section}.* keys)")
    return config


def check_resumable(workdir: str, config, method_keys=()) -> None:
    """Refuse (ConfigError) to run `config` in a workdir that is a file, or whose
    checkpoints were trained under a config that differs in a `RESUME_DEFINING_KEYS` or
    `method_keys` value: the message names the keys and both values. An older
    config.json is upgraded first (`config_upgrades.upgrade`: a key added since reads as
    the value those runs had, so adding a key never refuses the runs it does not change).
    Nothing in the workdir changes."""
    from fewgen_tf.errors import ConfigError

    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ConfigError(f"workdir {workdir} is a file, not a directory")
    check_writable(workdir)
    old_path = os.path.join(workdir, "config.json")
    if not (os.path.exists(old_path) and os.path.isdir(os.path.join(workdir, "checkpoints"))):
        return
    try:
        with open(old_path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return  # an unreadable config.json defines nothing; checkpoints restore strictly
    old = config_upgrades.upgrade(old, old_path)
    new = json.loads(config.to_json_best_effort())
    differ = [(k, _lookup(old, k), _lookup(new, k))
              for k in RESUME_DEFINING_KEYS + tuple(method_keys)
              if _lookup(old, k) != _lookup(new, k)]
    if differ:
        raise ConfigError(
            f"workdir {workdir} holds checkpoints of another setting ("
            + "; ".join(f"{k}: {a!r} there, {b!r} now" for k, a, b in differ)
            + "); resuming would be meaningless: use a new --workdir")


def check_writable(workdir: str) -> None:
    """Refuse (ConfigError, naming `workdir` and the problem) a workdir this process
    cannot create or write: one below a regular file, or in a read-only or foreign place.
    Judged on the workdir if it exists, else on its nearest existing ancestor (which the
    run would create it in); nothing is created. Called before anything is read or
    trained, so such a run stops at once instead of with a traceback at its first write."""
    from fewgen_tf.errors import ConfigError

    path = os.path.abspath(workdir)
    while not os.path.exists(path):  # the nearest existing ancestor ("/" exists)
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise ConfigError(f"workdir {workdir} cannot be created: {path} is a file, not a "
                          "directory")
    if not os.access(path, os.W_OK | os.X_OK):
        where = "it is" if path == os.path.abspath(workdir) else f"{path} is"
        raise ConfigError(f"workdir {workdir} is not writable: {where} read-only or not "
                          "this user's to write")


def _partial(path: str) -> str:
    """Where a whole-file or whole-directory write goes before it is renamed to `path`
    (`remove_torn_writes` recognises the name)."""
    return f"{path}.partial-{os.getpid()}"


def write_text(path: str, text: str) -> str:
    """Write a whole file atomically (a temporary file beside it, then `os.replace`): a
    run killed while writing leaves the old file or the new one, never half of one
    (a half-written settings file would stop every later resume)."""
    return _write_atomically(path, text)


def _write_atomically(path: str, text: str) -> str:
    temporary = _partial(path)
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)
    return path


_TORN_FILE = re.compile(r"\.(partial-[0-9]+|tempstate[0-9]+|tmp[0-9a-f]{32})$")


def _is_torn_checkpoint_dir(path: str) -> bool:
    """TensorFlow writes a checkpoint's shards into `PREFIX_temp/part-*` and merges them
    into place; a kill between the two leaves that directory behind."""
    return (os.path.basename(path).endswith("_temp")
            and all(name.startswith("part-") for name in os.listdir(path)))


def remove_torn_writes(workdir: str) -> list:
    """Delete what writes cut short by a killed run left in `workdir`: checkpoint
    `*_temp` shard directories, TensorFlow's `*.tempstateN` / `*.tmpHEX` files, and this
    library's `*.partial-PID` files and export directories (every writer here writes
    beside its target and renames, so these are never read). Called once at the start of
    a run, which owns its workdir. Returns the removed paths, each logged."""
    from absl import logging

    removed = []
    for directory, subdirectories, files in os.walk(workdir):  # nothing if it is absent
        for name in list(subdirectories):
            path = os.path.join(directory, name)
            if _TORN_FILE.search(name) or _is_torn_checkpoint_dir(path):
                shutil.rmtree(path, ignore_errors=True)
                subdirectories.remove(name)  # do not walk into what is gone
                removed.append(path)
        for name in files:
            if _TORN_FILE.search(name):
                os.remove(os.path.join(directory, name))
                removed.append(os.path.join(directory, name))
    for path in removed:
        logging.warning("removed %s, left by a write that a killed run did not finish", path)
    return removed


def replace_directory(write, path: str, same=None) -> str:
    """Write a directory whole: `write(temporary)` fills a sibling `PATH.partial-PID`,
    which then takes `path`'s place (the old one, if any, is moved aside and deleted
    after). A kill or an error mid-write leaves the previous `path` untouched; a reader
    (TF Serving polling `export/NAME/`, whose versions are integer names) never sees a
    half-written directory. `same(temporary, path)`, when given, is asked whether the
    new directory holds what `path` already holds: then `path` is kept byte for byte
    (an unchanged rerun of a finished run changes nothing in its workdir)."""
    temporary = _partial(path)
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        write(temporary)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if same is not None and os.path.isdir(path) and same(temporary, path):
        shutil.rmtree(temporary, ignore_errors=True)
        return path
    old = None
    if os.path.exists(path):
        old = _partial(f"{path}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(temporary, path)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return path


def write_json(path: str, value, **dump_options) -> str:
    """`json.dump` of `value` to `path`, atomically (see write_text)."""
    return write_text(path, json.dumps(value, **dump_options) + "\n")


def _config_text(config) -> str:
    return config.to_json_best_effort(indent=2, sort_keys=True) + "\n"


def write_config(workdir: str, config) -> str:
    os.makedirs(workdir, exist_ok=True)
    return _write_atomically(os.path.join(workdir, "config.json"), _config_text(config))


# --- When config.json is written -------------------------------------------------------
class PendingConfig:
    """A run's config.json, held by `pipelines.run` (`with PendingConfig(workdir,
    config):`) from the run's checks to its end, and written once, at the run's first
    change to what the workdir holds. config.json records what produced a workdir's
    checkpoints and results, and `check_resumable` judges every later run against it, so
    a run that fails before changing anything (bad data, too few images, checkpoints of
    another setting that cannot be read) must leave it as it was. The first changes call
    `commit_config(path)` explicitly, each where it writes: before a first checkpoint
    (`training.fit_resumable`, once the checkpoints it resumes from were read; COLA's
    stages), a result or settings file (`metrics.fewshot`, `stages.generation_eval`, COLA's
    gen_eval.json and small-sample files) or an export (`export`); `pipelines.run` commits
    when the run ends well. Logs (metrics.jsonl, TensorBoard, samples/*.png) do not count.
    Writing a file never writes config.json behind the caller's back."""

    _open = {}  # workdir (absolute) -> the PendingConfig of the run writing there

    def __init__(self, workdir: str, config):
        self.workdir = os.path.abspath(workdir)
        self.text = _config_text(config)
        self.written = False

    def commit(self) -> None:
        if not self.written:
            os.makedirs(self.workdir, exist_ok=True)
            _write_atomically(os.path.join(self.workdir, "config.json"), self.text)
            self.written = True

    def __enter__(self):
        PendingConfig._open[self.workdir] = self
        return self

    def __exit__(self, *exc):
        PendingConfig._open.pop(self.workdir, None)
        return False


def commit_config(path: str) -> None:
    """Write the config.json of the run whose workdir is `path` or holds it, if it is not
    written yet (`PendingConfig.commit`); nothing outside a run (e.g. a test calling a
    stage directly)."""
    path = os.path.abspath(path)
    for workdir, pending in list(PendingConfig._open.items()):
        if path == workdir or path.startswith(workdir.rstrip(os.sep) + os.sep):
            pending.commit()


def append_metrics_once(workdir: str, record: dict) -> bool:
    """Append `record` unless metrics.jsonl already holds the same record (its `time`
    aside): for records that describe the run rather than a step (the task sampler's
    anchor statistics, a data summary), which a rerun of a finished run computes again
    identically and must not repeat. Returns whether it appended."""
    expected = json.loads(json.dumps(record, sort_keys=True, default=_to_builtin))
    path = os.path.join(workdir, "metrics.jsonl")
    if os.path.isfile(path):
        with open(path) as f:
            for line in f:
                try:
                    old = json.loads(line)
                except ValueError:
                    continue
                if isinstance(old, dict):
                    old.pop("time", None)
                    if old == expected:
                        return False
    append_metrics(workdir, record)
    return True


def append_metrics(workdir: str, record: dict) -> None:
    """Append one record to metrics.jsonl, with a wall-clock timestamp. After a kill in
    the middle of an earlier append, the record starts on a line of its own."""
    os.makedirs(workdir, exist_ok=True)
    record = dict(record, time=round(time.time(), 3))
    path = os.path.join(workdir, "metrics.jsonl")
    line = json.dumps(record, sort_keys=True, default=_to_builtin) + "\n"
    with open(path, "a+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                line = "\n" + line
        f.write(line.encode())


def drop_metrics_after(workdir: str, phase, step: int) -> int:
    """Delete the metrics.jsonl records of `phase` (None: records without a phase) whose
    `step` is after `step`; returns how many. `training.fit_resumable` calls it with the
    step it resumes from: those records describe steps whose checkpoint was lost (a
    truncated newest checkpoint, a kill after the metrics line but before the checkpoint),
    and the resumed run trains those steps again and appends their records anew. Dropping
    the stale lines in the writer, once, keeps metrics.jsonl one line per (phase, step)
    for every reader (ours and a user's pandas alike) and keeps the lines of the weights
    the workdir really holds; a reader-side de-duplication would have to be repeated by
    every reader. The file is rewritten atomically and only when something is dropped."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        lines = f.read().splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            kept.append(line)  # a torn line stays as it was (readers skip it)
            continue
        if (isinstance(record, dict) and record.get("phase") == phase
                and isinstance(record.get("step"), int) and record["step"] > step):
            continue
        kept.append(line)
    dropped = len(lines) - len(kept)
    if dropped:
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        _write_atomically(path, "".join(kept))
    return dropped


def read_metrics(workdir: str) -> list:
    """The records of metrics.jsonl; a line cut short by a kill is skipped."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # empty, or a record whose append was killed half-way
    return records


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to metrics.jsonl")


def save_png(workdir: str, name: str, image: np.ndarray) -> str:
    """Save an HWC float image in [0, 1] as `workdir/samples/name`."""
    import tensorflow as tf  # late import: config handling stays TensorFlow-free

    directory = os.path.join(workdir, "samples")
    os.makedirs(directory, exist_ok=True)
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    path = os.path.join(directory, name)
    tf.io.write_file(path, tf.io.encode_png(pixels))
    return path


# --- Who writes the workdir under `distribute = "multi_worker"` --------------------------
# TensorFlow's multi-worker guide: every worker runs the same program and takes part in
# every collective op (saving included), but only the CHIEF writes to the real paths;
# the other workers write their copies to a temporary directory of their own, which is
# removed afterwards, and every worker RESTORES from the chief's checkpoints (the workdir
# must be on a filesystem all workers read: NFS, GCS, or one machine). This is the one
# place that decides it: `pipelines.run` hands each pipeline `own_workdir(...)`, so every
# writer (checkpoints, metrics.jsonl, samples, eval.json, config.json, TensorBoard,
# exports) lands in the right place unchanged, and `fit_resumable` reads checkpoints
# through `shared_path`.

_CHIEF_WORKDIRS = {}  # a non-chief worker's temporary workdir -> the chief's workdir


def worker_task(config):
    """(task_type, task_index) of this process from TF_CONFIG under `multi_worker`, else
    None (a single-process run, whatever the environment holds)."""
    if config.distribute != "multi_worker":
        return None
    from fewgen_tf.errors import ConfigError

    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task") or {}
    except ValueError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None
    if not task:
        return None  # no cluster: MultiWorkerMirroredStrategy runs as a single worker
    return str(task.get("type")), int(task.get("index", 0))


def is_chief(config) -> bool:
    """The TF rule: the `chief` task, or `worker` 0 of a cluster without a `chief`; every
    process of a single-process run."""
    task = worker_task(config)
    if task is None:
        return True
    cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster") or {}
    task_type, index = task
    return task_type == "chief" or (task_type == "worker" and index == 0
                                     and "chief" not in cluster)


def own_workdir(workdir: str, config) -> str:
    """Where this process writes: `workdir` itself for the chief (and any single-process
    run); for every other worker a fresh temporary directory of its own (removed by
    `remove_own_workdir`), so that nothing collides and the workdir is the chief's alone."""
    if is_chief(config):
        return workdir
    import tempfile

    task_type, index = worker_task(config)
    own = tempfile.mkdtemp(prefix=f"fewgen_tf_{task_type}{index}_")
    _CHIEF_WORKDIRS[own] = workdir
    return own


def shared_path(path: str) -> str:
    """Where to READ what the run keeps (checkpoints to resume from): the chief's copy of
    `path` when `path` lies in a worker's temporary workdir, else `path` itself."""
    for own, chief in _CHIEF_WORKDIRS.items():
        if path == own or path.startswith(own + os.sep):
            return chief + path[len(own):]
    return path


def remove_own_workdir(own: str) -> None:
    """Delete a non-chief worker's temporary workdir (a no-op for the chief's)."""
    if _CHIEF_WORKDIRS.pop(own, None) is not None:
        import shutil

        shutil.rmtree(own, ignore_errors=True)
