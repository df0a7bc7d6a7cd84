r"""Kill-anywhere resume: SIGKILL tiny runs of every pipeline at random moments, re-run
the same command until it finishes, and compare with an uninterrupted run.

  python tools/kill_resume.py                                       # every pipeline
  python tools/kill_resume.py --pipelines=supervised_maml --kills=20 --seed=0
  python tools/kill_resume.py --pipelines=cola,scola --kills=5 --out=/tmp/kr

Pipelines (`--pipelines`, `PIPELINES`): configs/*.py files with the tests' tiny
configuration (tests/tiny_configs.py) on the built-in synthetic glyphs (no data files),
several checkpointed epochs, validation or a generation protocol, and exports: 8-35 s on
2 CPU cores. Everything goes to --out (default /tmp/fewgen_kill_resume), one directory
per pipeline, replaced on every run.

Per pipeline (the protocol: `kill_resume`): a reference and a control run, then attempts
in a fresh workdir, each SIGKILLed at a seeded random moment or during a checkpoint write,
until `--kills` kills have landed and a last attempt finishes; every finished round's
result file and exports are compared with the reference, bitwise. Output: progress on
stderr; on stdout one JSON line per pipeline (each kill in OUT/PIPELINE/report.json) and
a markdown table. Exit status 1 if a pipeline failed to resume or to run.

Why bitwise: two uninterrupted runs of a tiny configuration repeat bitwise on one CPU
(the generators' SeedGenerator states are checkpointed: `training.random_states`), so a
difference after kills comes from the resume. On a GPU cuDNN kernels are not bitwise
reproducible: read the control run's line, or run with CUDA_VISIBLE_DEVICES=. Results:
benchmarks/RESULTS.md, section "Kill-anywhere resume, every pipeline".
"""

import argparse
import collections
import dataclasses
import glob
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD_ENVIRON = dict(os.environ)  # the runs' environment (before this process quiets TF)

# ----------------------------------------------------------------------------------------
# The tiny configurations: the tests' (tests/tiny_configs.py), run through the CLI on one
# device, most with more epochs than the tests' so that kills land between checkpoints.
# ----------------------------------------------------------------------------------------
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))
import tiny_configs  # noqa: E402

_LONGER_META = {"meta.iterations": 8, "eval.inner_steps": 10}  # 4 epochs
# The MNIST configs' clusters and evaluation subset made the glyphs' (2 classes, one subset).
_COLA_ON_GLYPHS = {"cola.num_clusters": 2, "cola.eval_subset": "", "generator.epochs": 5}


def _options(config_file, *settings) -> tuple:
    """--config=CONFIG_FILE and the --config.* flags of `settings` (later ones win), on one
    device."""
    return (f"--config={config_file}",) + tiny_configs.flags(*settings,
                                                             {"distribute": "default"})


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """A tiny run: config file and overrides, the result file(s) it ends with, and
    whether it evaluates generation (then each run gets its own evaluation-network
    cache under its run directory, so a kill can also land in that cache's write)."""
    options: tuple
    results: tuple
    feature_cache: bool = False


def _meta(pipeline: dict) -> tuple:
    """configs/quickstart.py's tiny meta-learning over 4 epochs, with `pipeline`'s keys."""
    return _options("configs/quickstart.py", tiny_configs.QUICKSTART_META, _LONGER_META,
                    pipeline)


_META_RESULTS = ("eval.json", "summary.json")
PIPELINES = {
    "supervised_maml": Pipeline(_meta({"pipeline": "supervised", "meta.algorithm": "maml",
                                       "meta.inner_steps": 1}), _META_RESULTS),
    "supervised_protonets": Pipeline(_meta({"pipeline": "supervised",
                                            "meta.algorithm": "protonets"}), _META_RESULTS),
    "supervised_reptile": Pipeline(_meta({"pipeline": "supervised", "meta.algorithm": "reptile",
                                          "meta.inner_steps": 1}), _META_RESULTS),
    # (no meta-training, so no checkpoints: kills land in evaluation and export)
    "supervised_scratch": Pipeline(_meta({"pipeline": "supervised", "meta.algorithm": "scratch",
                                          "meta.scratch_steps": 2}), _META_RESULTS),
    # (with the supervised baseline, whose own checkpoints in baselines/supervised/ resume)
    "lasium": Pipeline(_meta({"pipeline": "lasium", "generator.name": "vae",
                              "generator.epochs": 3, "eval.supervised_baseline": True}),
                       _META_RESULTS),
    "augintae": Pipeline(_options(
        "configs/augintae_omniglot.py", tiny_configs.GLYPHS_16, tiny_configs.GEN_EVAL,
        tiny_configs.AUGINTAE, {"generator.epochs": 6}), ("gen_eval.json",), feature_cache=True),
    "meta_favae": Pipeline(_options(
        "configs/meta_favae_omniglot.py", tiny_configs.GLYPHS_16, tiny_configs.GEN_EVAL,
        tiny_configs.META_FAVAE, {"generator.iterations": 8}), ("gen_eval.json",),
        feature_cache=True),
    # the meta-batch's 2 tasks spread over 2 logical CPU devices
    "meta_favae_mirrored": Pipeline(_options(
        "configs/meta_favae_omniglot.py", tiny_configs.GLYPHS_16, tiny_configs.GEN_EVAL,
        tiny_configs.META_FAVAE, {"generator.iterations": 8, "meta_favae.meta_batch": 2})
        + tiny_configs.flags({"distribute": "mirrored", "cpu_devices": 2}),
        ("gen_eval.json",), feature_cache=True),
    "cola": Pipeline(_options(
        "configs/cola_mnist.py:cola", tiny_configs.TWO_GLYPHS, tiny_configs.COLA,
        tiny_configs.COLA_EVAL, tiny_configs.COLA_STEP_ONE, _COLA_ON_GLYPHS,
        {"cola.cluster_epochs": 4}), ("gen_eval.json",), feature_cache=True),
    # step I without RotNet: its matching over the global batch of 2 logical CPU devices
    "cola_mirrored": Pipeline(_options(
        "configs/cola_mnist.py:cola", tiny_configs.TWO_GLYPHS, tiny_configs.COLA,
        tiny_configs.COLA_EVAL, tiny_configs.COLA_STEP_ONE, _COLA_ON_GLYPHS,
        {"cola.cluster_epochs": 4, "cola.rotnet": False})
        + tiny_configs.flags({"distribute": "mirrored", "cpu_devices": 2}),
        ("gen_eval.json",), feature_cache=True),
    "scola": Pipeline(_options(
        "configs/scola_mnist.py", tiny_configs.TWO_GLYPHS, tiny_configs.COLA,
        tiny_configs.COLA_EVAL, _COLA_ON_GLYPHS), ("gen_eval.json",), feature_cache=True),
    # 2 sizes x 2 draws, each an sCOLA sub-workdir; no export.
    "small_sample": Pipeline(_options(
        "configs/small_sample_mnist.py", tiny_configs.SMALL_SAMPLE,
        {"cola.num_clusters": 2, "small_sample.spc": (2, 3), "small_sample.draws": 2}),
        ("small_sample.json",)),
}

# Result-file keys that hold wall-clock times or say whether a step was resumed: they
# differ between an interrupted and an uninterrupted run by design.
VOLATILE_KEYS = {"seconds", "timing", "time", "scola_resumed"}


def command(pipeline: Pipeline, run_dir: str) -> list:
    """The CLI command of a run whose workdir (and evaluation-network cache) are in
    `run_dir`."""
    cmd = [sys.executable, "-m", "fewgen_tf.main", *pipeline.options,
           f"--workdir={os.path.join(run_dir, 'workdir')}"]
    if pipeline.feature_cache:
        cmd.append(f"--config.gen_eval.feature_cache={os.path.join(run_dir, 'feature_cache')}")
    return cmd


# ----------------------------------------------------------------------------------------
# Where a kill landed
# ----------------------------------------------------------------------------------------
# Every attempt imports this 10-line `sitecustomize` (written to OUT/_probe and put first
# on PYTHONPATH; the command itself is unchanged), which registers `faulthandler` on
# SIGUSR1. Just before the SIGKILL the script sends SIGUSR1 and reads the main thread's
# Python stack, which names the phase (imports, data / model setup, generator training,
# meta-training, validation, checkpoint write, evaluation, export, exit, ...); the last
# meaningful log line and the newest metrics.jsonl record are kept beside it.
STACK_ENV = "FEWGEN_KILL_RESUME_STACK_FILE"
_SITECUSTOMIZE = f'''"""kill_resume.py's probe: dump the Python stacks to a file on SIGUSR1."""
import faulthandler, os, signal, threading
_path = os.environ.pop("{STACK_ENV}", None)  # (pop: not inherited by grandchildren)
if _path:
    _file = open(_path, "w")
    faulthandler.register(signal.SIGUSR1, file=_file, all_threads=True)
    _file.write("armed %#x\\n" % threading.get_ident())  # (after: SIGUSR1 is safe now)
    _file.flush()
'''

# (phase, predicate over the main thread's frames [(file, function)], innermost first);
# the first match names the phase, so more specific phases come first.
def _has(frames, file_part, *functions):
    return any(file_part in f and (not functions or fn in functions) for f, fn in frames)


def _in_pipeline_step(frames):
    """A frame of a pipeline's `run` (or deeper): past the start-up imports."""
    return any("/fewgen_tf/pipelines/" in f and not f.endswith("__init__.py")
               and fn != "<module>" for f, fn in frames)


_PHASE_RULES = (
    # (a lazy import inside a later step, e.g. Keras' TensorBoard callback importing
    # tensorboard in the first epoch, is named by that step)
    ("imports", lambda fr: _has(fr, "importlib") and not _in_pipeline_step(fr)),
    ("export", lambda fr: _has(fr, "fewgen_tf/export.py")),
    ("checkpoint write", lambda fr: _has(fr, "checkpoint_management.py", "save")),
    ("checkpoint restore", lambda fr: _has(fr, "fewgen_tf/training.py",
                                           "_restore_newest_readable")
     or _has(fr, "fewgen_tf/stages/generator.py", "load_trained_generator")),
    ("best-weights write", lambda fr: _has(fr, "fewgen_tf/training.py", "on_epoch_end")
     and _has(fr, "checkpoint/checkpoint.py", "write")),
    ("best-weights restore", lambda fr: _has(fr, "fewgen_tf/training.py", "fit_resumable")
     and _has(fr, "checkpoint/checkpoint.py", "read")),
    ("validation", lambda fr: _has(fr, "fewgen_tf/stages/meta_learning.py", "validate")),
    ("epoch-end sample grid", lambda fr: _has(fr, "fewgen_tf/stages/generator.py",
                                              "on_epoch_end")
     or _has(fr, "fewgen_tf/methods/meta_favae/pipeline.py", "on_epoch_end")
     or _has(fr, "fewgen_tf/methods/cola/stages.py", "on_epoch_end")),
    ("metrics / tensorboard write", lambda fr: _has(fr, "fewgen_tf/workdir.py",
                                                    "append_metrics")
     or _has(fr, "callbacks/tensorboard.py")),
    ("evaluation", lambda fr: _has(fr, "fewgen_tf/meta/evaluation.py", "task_accuracies")),
    ("evaluation-network training", lambda fr: _has(fr, "fewgen_tf/metrics/evaluation_network.py",
                                                    "evaluation_network")),
    ("generation evaluation", lambda fr: _has(fr, "fewgen_tf/stages/generation_eval.py")
     or _has(fr, "fewgen_tf/methods/cola/stages.py", "evaluate_class_generator")),
    ("small-sample classifiers", lambda fr: _has(fr,
                                                 "fewgen_tf/methods/cola/section6_classifier.py")),
    ("COLA step I (clustering)", lambda fr: _has(fr, "fewgen_tf/methods/cola/stages.py",
                                                 "cluster_images")),
    ("sCOLA / COLA step II training", lambda fr: _has(fr, "fewgen_tf/methods/cola/stages.py",
                                                      "train_codes")),
    ("COLA step III / samples", lambda fr: _has(fr, "fewgen_tf/methods/cola/stages.py")),
    ("meta-training", lambda fr: _has(fr, "fewgen_tf/stages/meta_learning.py", "meta_learn")
     and _has(fr, "fewgen_tf/training.py", "fit_resumable")),
    ("generator training", lambda fr: _has(fr, "fewgen_tf/training.py", "fit_resumable")),
    ("task sampling", lambda fr: _has(fr, "fewgen_tf/methods/lasium/")),
    ("data / model setup", lambda fr: _has(fr, "/fewgen_tf/")),
)


def parse_stack_dump(text: str):
    """The main thread's frames [(file, function)], innermost first, from a faulthandler
    dump that starts with the probe's `armed 0x<thread id>` line: None if the dump has
    no such thread, [] if it says `<no Python frame>` (the interpreter is finalising)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("armed "):
        return None
    main_id = int(lines[0].split()[1], 16)
    threads, current = {}, None
    for line in lines[1:]:
        header = re.match(r"(?:Current thread|Thread) (0x[0-9a-f]+)", line)
        if header:
            current = threads.setdefault(int(header.group(1), 16), [])
            continue
        frame = re.match(r'\s+File "(.*)", line \d+ in (\S+)', line)
        if frame and current is not None:
            current.append((frame.group(1), frame.group(2)))
    return threads.get(main_id)


def stack_phase(frames, log_line="") -> tuple:
    """(phase name, innermost fewgen_tf frame as 'module.function') of a main-thread
    stack. faulthandler keeps only the innermost 100 frames: a stack cut inside an
    import shows no fewgen_tf frame, and the run's last log line tells the start-up
    imports (after main.py's "pipeline ..." line) from a lazy import later on."""
    if frames is None:  # (no dump within 3 s: seen once, inside TensorFlow's C++ import)
        return ("imports (no stack)" if log_line.startswith("main.py:")
                else "unknown (no stack)"), ""
    if not frames:  # faulthandler's "<no Python frame>": the interpreter is finalising
        return "exit", ""
    ours = [(f, fn) for f, fn in frames if "/fewgen_tf/" in f]
    where = ""
    if ours:
        path, function = ours[0]
        where = path[path.rindex("/fewgen_tf/") + 1:-3].replace("/", ".") + "." + function
    cut = not _has(frames, "runpy")
    if cut and not ours and _has(frames, "importlib"):
        return ("imports" if log_line.startswith("main.py:") else "lazy import (stack cut)",
                where)
    for phase, predicate in _PHASE_RULES:
        if predicate(frames):
            return phase, where
    return "other", where


_LOG_NOISE = re.compile(
    r"^(?:[IWE]0000 |WARNING: All log|To enable the|\s+self\.data_adapter|.*UserWarning"
    r"|.*(?:functional_saver|signature_serialization|fingerprinting_utils|"
    r"polymorphic_function)\.py)")


def last_log_line(log_path: str) -> str:
    """The last line of the log that says what the run was doing (TensorFlow's C++ and
    serialisation chatter skipped), without absl's date / thread prefix."""
    try:
        with open(log_path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.strip() and not _LOG_NOISE.match(line):
            line = re.sub(r"^[IWEF]\d{4} [\d:.]+ +\d+ ", "", line.strip())
            return line[:110]
    return ""


def newest_metrics(workdir: str) -> str:
    """'phase@step' of the newest metrics.jsonl record (a partial last line is shown as
    such: it would be a resume hazard for readers of metrics.jsonl)."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        lines = [line for line in f.read().split("\n") if line.strip()]
    if not lines:
        return ""
    try:
        record = json.loads(lines[-1])
    except ValueError:
        return f"PARTIAL LINE ({len(lines[-1])} chars)"
    return f"{record.get('phase', 'meta')}@{record.get('step', '?')} ({len(lines)} records)"


def torn_writes(*roots) -> list:
    """Paths left by a write that did not finish: TensorFlow checkpoint temp directories
    (`ckpt-N_temp`, `weights_temp`), temp state files, partial evaluation-network caches."""
    found = []
    for root in roots:
        for directory, subdirectories, files in os.walk(root):
            for name in subdirectories + files:
                if name.endswith("_temp") or "tempstate" in name or ".partial-" in name \
                        or re.search(r"\.tmp[0-9a-f]{8,}", name):
                    found.append(os.path.relpath(os.path.join(directory, name),
                                                 os.path.dirname(root)))
    return sorted(found)


def checkpoint_temp_entries(workdir: str) -> set:
    """The `*_temp` directories under the workdir (sub-workdirs included) and what they
    hold: TensorFlow writes a checkpoint's shards there before merging them into place,
    and removes the directory when done (a kill leaves it behind)."""
    found, stack = set(), [workdir]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name.endswith("_temp"):
                    found.add(entry.path)
                    try:
                        found.update(e.path for e in os.scandir(entry.path))
                    except OSError:  # (merged and removed meanwhile)
                        pass
                elif entry.name not in ("tensorboard", "samples", "export"):
                    stack.append(entry.path)
    return found


# ----------------------------------------------------------------------------------------
# Running and killing attempts
# ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Attempt:
    returncode: int
    seconds: float
    killed: bool = False
    timed_out: bool = False
    first_output: float = None  # seconds until the log got its first byte
    kill: dict = None           # where the kill landed (killed attempts)


def _stack_before_kill(process, probe_path):
    """Ask the attempt for its Python stacks (SIGUSR1 to the probe) and return the main
    thread's frames (`parse_stack_dump`), or the string "unarmed" while the probe is not
    armed yet (the interpreter is starting: SIGUSR1 would simply end it, so it is not
    sent)."""
    with open(probe_path, errors="replace") as f:
        if not f.readline().startswith("armed "):
            return "unarmed"
    previous = os.path.getsize(probe_path)
    os.kill(process.pid, signal.SIGUSR1)
    # Until the dump has grown and settled. A process in uninterruptible I/O (reading
    # modules, writing files) on a loaded machine may take a while to take the signal.
    grown, deadline = False, time.monotonic() + 3.0
    while time.monotonic() < deadline:
        time.sleep(0.005)
        size = os.path.getsize(probe_path)
        if grown and size == previous:
            break
        grown, previous = grown or size > previous, size
    with open(probe_path, errors="replace") as f:
        return parse_stack_dump(f.read())


def _kill(process, probe_path, workdir, log_path, start, how):
    """SIGKILL the attempt's process group (after taking its stack, for a `random`
    kill with the probe); returns where the kill landed."""
    where = ""
    if how == "aimed":
        phase = "checkpoint write (aimed)"
    elif probe_path is None:
        phase = "unknown (no stack probe)"
    else:
        frames = _stack_before_kill(process, probe_path)
        phase, where = (("interpreter start", "") if frames == "unarmed"
                        else stack_phase(frames, last_log_line(log_path)))
    at = time.monotonic() - start
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return {"how": how, "at_s": round(at, 3), "phase": phase, "where": where,
            "log": last_log_line(log_path), "metrics": newest_metrics(workdir)}


def run_attempt(cmd, log_path, workdir, kill_at=None, kill_on_checkpoint=False,
                timeout=600.0, probe_dir=None) -> Attempt:
    """Run `cmd` (its own session, output to `log_path`); SIGKILL its process group at
    `kill_at` seconds or, with `kill_on_checkpoint`, as soon as a checkpoint write is
    under way in `workdir`; a run past `timeout` seconds is killed as hung."""
    env = dict(_CHILD_ENVIRON, PYTHONUNBUFFERED="1")
    probe_path = None
    if probe_dir:
        probe_path = log_path[:-4] + ".stack"
        env[STACK_ENV] = probe_path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [probe_dir,
                                                          env.get("PYTHONPATH", "")]))
    with open(log_path, "wb") as log:
        start = time.monotonic()
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    attempt = Attempt(returncode=None, seconds=0.0)
    # (temp entries left by an earlier kill are not a write in progress)
    left_over = checkpoint_temp_entries(workdir) if kill_on_checkpoint else set()
    while True:
        elapsed = time.monotonic() - start
        if attempt.first_output is None and os.path.getsize(log_path) > 0:
            attempt.first_output = elapsed
        if process.poll() is not None:
            break
        if elapsed > timeout:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            attempt.timed_out = True
            break
        if kill_at is not None and elapsed >= kill_at:
            attempt.kill = _kill(process, probe_path, workdir, log_path, start, "random")
            break
        if kill_on_checkpoint and checkpoint_temp_entries(workdir) - left_over:
            attempt.kill = _kill(process, None, workdir, log_path, start, "aimed")
            break
        if kill_on_checkpoint:
            time.sleep(0.002)
        elif kill_at is not None:
            time.sleep(max(0.0, min(0.05, kill_at - elapsed)))
        else:
            time.sleep(0.05)
    attempt.seconds = time.monotonic() - start
    attempt.returncode = process.returncode
    # (an attempt that exited by itself just before the kill was not killed; one that
    # the SIGUSR1 ended while the interpreter was finalising was)
    attempt.killed = attempt.kill is not None and process.returncode in (
        -signal.SIGKILL, -signal.SIGUSR1)
    return attempt


def log_tail(log_path: str, lines: int = 25) -> str:
    with open(log_path, errors="replace") as f:
        kept = [line for line in f.read().splitlines() if not _LOG_NOISE.match(line)]
    return "\n".join(kept[-lines:])


# ----------------------------------------------------------------------------------------
# Comparing finished runs
# ----------------------------------------------------------------------------------------
def _numeric(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare_trees(a, b, path=""):
    """(max |difference| of numeric leaves, [paths that differ]) of two JSON trees,
    skipping VOLATILE_KEYS; a non-numeric or structural difference counts as inf."""
    if isinstance(a, dict) and isinstance(b, dict):
        worst, differ = 0.0, []
        for key in sorted(set(a) | set(b)):
            if key in VOLATILE_KEYS:
                continue
            if key not in a or key not in b:
                worst, differ = math.inf, differ + [f"{path}{key} (missing)"]
                continue
            d, keys = compare_trees(a[key], b[key], f"{path}{key}.")
            worst, differ = max(worst, d), differ + keys
        return worst, differ
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        worst, differ = 0.0, []
        for i, (x, y) in enumerate(zip(a, b)):
            d, keys = compare_trees(x, y, f"{path}{i}.")
            worst, differ = max(worst, d), differ + keys
        return worst, differ
    if _numeric(a) and _numeric(b):
        if a == b or (a != a and b != b):  # (NaN == NaN here)
            return 0.0, []
        return abs(a - b), [path.rstrip(".")]
    return (0.0, []) if a == b else (math.inf, [path.rstrip(".")])


def compare_results(files, reference_workdir, workdir) -> dict:
    worst, differ = 0.0, []
    for name in files:
        paths = [os.path.join(d, name) for d in (reference_workdir, workdir)]
        if not all(os.path.exists(p) for p in paths):
            worst, differ = math.inf, differ + [f"{name} missing"]
            continue
        trees = []
        for p in paths:
            with open(p) as f:
                trees.append(json.load(f))
        d, keys = compare_trees(*trees)
        worst, differ = max(worst, d), differ + [f"{name}:{k}" for k in keys]
    return {"equal": not differ, "max_abs_diff": worst, "differ": differ[:12]}


# Inputs of the exported signatures (fewgen_tf/export.py), by input name.
_BATCH = {"support_images": 5, "support_labels": 5, "query_images": 10, "seed_images": 4,
          "latents": 6}
_SCALARS = {"num_images": 3, "seed": 7, "class_index": 1}


def signature_inputs(specs: dict, seed: int) -> dict:
    """Fixed inputs for a signature's TensorSpecs: images uniform in [0, 1] and latents
    N(0, 1) from `seed`, support labels 0..4 (5-way 1-shot), scalars from _SCALARS."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    inputs = {}
    for name, spec in sorted(specs.items()):
        dims = [(_BATCH.get(name, 4) if d is None else d) for d in spec.shape.as_list()]
        if spec.dtype.is_floating:
            draw = rng.standard_normal if name == "latents" else rng.uniform
            value = draw(size=dims)
        elif name == "support_labels":
            value = np.arange(dims[0]) % 5
        elif not dims:
            value = _SCALARS.get(name, 1)
        else:
            value = np.zeros(dims)
        inputs[name] = tf.constant(value, dtype=spec.dtype)
    return inputs


def exported(workdir: str, seed: int) -> dict:
    """Every SavedModel in workdir/export, as {"outputs": {'NAME/VERSION SIGNATURE:OUTPUT':
    array}: every signature called on `signature_inputs`, "variables": {'NAME/VERSION':
    sorted digests of its stored variables}}. (The variables are compared as a multiset:
    Keras' ExportArchive stores them as `_all_variables/N` in an order that changes from
    run to run.)"""
    import tensorflow as tf

    outputs, variables = {}, {}
    for model_dir in sorted(glob.glob(os.path.join(workdir, "export", "*", "*"))):
        label = os.path.relpath(model_dir, os.path.join(workdir, "export"))
        reader = tf.train.load_checkpoint(os.path.join(model_dir, "variables", "variables"))
        variables[label] = sorted(
            hashlib.sha1(f"{dtype.name}{reader.get_tensor(name).shape}".encode()
                         + reader.get_tensor(name).tobytes()).hexdigest()
            for name, dtype in reader.get_variable_to_dtype_map().items()
            if dtype.is_floating or dtype.is_integer)
        loaded = tf.saved_model.load(model_dir)
        for signature, function in sorted(loaded.signatures.items()):
            result = function(**signature_inputs(function.structured_input_signature[1], seed))
            for key, value in sorted(result.items()):
                outputs[f"{label} {signature}:{key}"] = value.numpy()
    return {"outputs": outputs, "variables": variables}


def compare_exports(reference: dict, other: dict) -> dict:
    """Signature outputs bitwise (else the largest absolute difference) and the stored
    variables as multisets (the number of a reference export's variables with no
    bitwise-equal twin in the other)."""
    if not reference["outputs"] and not other["outputs"]:
        return {"equal": None, "max_abs_diff": 0.0, "differ": []}
    worst, differ = 0.0, []
    for key in sorted(set(reference["outputs"]) | set(other["outputs"])):
        a, b = reference["outputs"].get(key), other["outputs"].get(key)
        if a is None or b is None or a.shape != b.shape:
            worst, differ = math.inf, differ + [f"{key} (missing or reshaped)"]
        elif not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b))))
            differ.append(key)
    outputs_differ, variables_differ = len(differ), 0
    for label in sorted(set(reference["variables"]) | set(other["variables"])):
        unmatched = sum((collections.Counter(reference["variables"].get(label, []))
                         - collections.Counter(other["variables"].get(label, []))).values())
        if unmatched or label not in other["variables"]:
            variables_differ += unmatched
            differ.append(f"{label} variables ({unmatched} of "
                          f"{len(reference['variables'].get(label, []))} differ)")
    return {"equal": not differ, "max_abs_diff": worst, "differ": differ[:8],
            "outputs": len(reference["outputs"]), "outputs_differ": outputs_differ,
            "variables_differ": variables_differ}


# ----------------------------------------------------------------------------------------
# One pipeline
# ----------------------------------------------------------------------------------------
def _say(message):
    print(f"[kill_resume {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _uninterrupted(pipeline, run_dir, probe_dir):
    """One run to the end in a fresh `run_dir` (RuntimeError if it fails)."""
    os.makedirs(run_dir)
    log = os.path.join(run_dir, "attempt00.log")
    attempt = run_attempt(command(pipeline, run_dir), log, os.path.join(run_dir, "workdir"),
                          timeout=1200.0, probe_dir=probe_dir)
    if attempt.returncode != 0:
        raise RuntimeError(f"the uninterrupted run in {run_dir} failed "
                           f"(exit {attempt.returncode}):\n{log_tail(log)}")
    return attempt


class KillPlan:
    """When to kill, from a seeded numpy Generator: `kills` moments uniform in
    [startup, duration] seconds after an attempt starts, and `aimed` kills (at random
    positions among them) that wait for a checkpoint write. `duration` is the shortest
    uninterrupted run seen so far (the machine's load changes). A kill the attempt did
    not wait for (it finished first) is a miss and is drawn again, up to 3 * (kills +
    aimed) + 10 misses."""

    def __init__(self, rng, kills, aimed, startup, duration):
        self.rng, self.startup, self.duration = rng, startup, duration
        self.total = kills + aimed
        self.aimed_at = set(rng.choice(self.total, size=aimed, replace=False).tolist())
        self.landed = self.misses = 0
        self.next = self._draw()

    def _draw(self):
        if self.landed in self.aimed_at:
            return "aimed", None
        return "random", float(self.rng.uniform(self.startup, self.duration))

    @property
    def done(self) -> bool:
        return self.landed >= self.total or self.misses > 3 * self.total + 10

    def full_run(self, seconds):
        """An uninterrupted run from a fresh workdir took `seconds`."""
        self.duration = max(self.startup, min(self.duration, seconds))

    def kill_landed(self):
        self.landed += 1
        self.next = self._draw()

    def kill_missed(self):
        self.misses += 1
        self.next = self._draw()


def run_round(number, name, pipeline, base, plan, timeout, probe_dir):
    """Attempts of the pipeline's command in the fresh workdir baseROUND/workdir, killed
    as `plan` says, until one exits 0 (or fails on its own). Returns (kill records,
    number of attempts, failure record or None)."""
    run_dir = os.path.join(base, f"round{number}")
    workdir = os.path.join(run_dir, "workdir")
    roots = (workdir, os.path.join(run_dir, "feature_cache"))
    os.makedirs(run_dir)
    kills = []
    for attempt_number in itertools.count():
        how, at = (None, None) if plan.done else plan.next
        log = os.path.join(run_dir, f"attempt{attempt_number:02d}.log")
        torn_before = set(torn_writes(*roots))
        attempt = run_attempt(command(pipeline, run_dir), log, workdir, kill_at=at,
                              kill_on_checkpoint=how == "aimed", timeout=timeout,
                              probe_dir=probe_dir)
        with open(log, errors="replace") as f:  # (training._restore_newest_readable)
            skipped = f.read().count("cannot be read")
        if kills and skipped:  # the previous kill left a checkpoint that cannot be read
            kills[-1]["unreadable_checkpoints_skipped"] = skipped
        if attempt.killed:
            plan.kill_landed()
            kill = dict(attempt.kill, round=number, attempt=attempt_number,
                        torn=sorted(set(torn_writes(*roots)) - torn_before))
            kills.append(kill)
            _say(f"{name}: round {number} attempt {attempt_number} killed at "
                 f"{kill['at_s']:.1f} s in {kill['phase']} ({kill['where'] or kill['log']})")
            continue
        if attempt.returncode == 0:
            if how is not None:
                plan.kill_missed()
            if attempt_number == 0:
                plan.full_run(attempt.seconds)
            _say(f"{name}: round {number} finished after {len(kills)} kill(s), attempt "
                 f"{attempt_number} ({attempt.seconds:.1f} s)")
            return kills, attempt_number + 1, None
        _say(f"{name}: FAILURE TO RESUME in round {number}, attempt {attempt_number} "
             f"(exit {attempt.returncode}{', hung' if attempt.timed_out else ''}); log {log}")
        return kills, attempt_number + 1, {
            "round": number, "attempt": attempt_number, "returncode": attempt.returncode,
            "hung": attempt.timed_out, "after_kill": kills[-1] if kills else None,
            "log": log, "log_tail": log_tail(log)}


def kill_resume(name, pipeline, out, kills, checkpoint_kills, seed, control, probe_dir):
    """The whole protocol for one pipeline; returns its report.

    1. `python -m fewgen_tf.main --config=... --workdir=W` (this interpreter) runs once
       uninterrupted: the reference, T_ref seconds; `startup` is the time until its
       first log line. A second uninterrupted run (the control; `--no-control` skips it)
       tells whether the pipeline repeats bitwise at all.
    2. In a fresh workdir the same command runs again and again, each attempt SIGKILLed
       (its whole process group: no Python cleanup, no atexit, no flush) at a moment
       drawn uniformly from [startup, T] by a numpy Generator seeded with `--seed`,
       where T is the shortest uninterrupted run seen (the load of a shared machine
       changes), until `--kills` kills have landed; then one last attempt runs to the
       end. An attempt that exits non-zero without being killed is a FAILURE TO RESUME:
       its log tail is reported and the pipeline stops. An attempt that ends before its
       kill moment (resumed attempts are shorter) finishes the round: the moment is a
       miss, drawn again, and the following kills go to a new round in a fresh workdir.
    3. `--checkpoint-kills` more kills (2 by default, at random places in the sequence)
       are aimed at checkpoint writes, which uniform moments rarely hit (~50 ms each):
       the attempt is killed as soon as a new entry appears in a `*_temp` directory of
       the workdir, where TensorFlow writes a checkpoint (the manager's `ckpt-N` or the
       best validation weights) before moving it into place. "mid-write" counts the
       aimed kills after which that temp directory was left behind.
    4. Every finished round is compared with the reference: the result file (eval.json,
       gen_eval.json, small_sample.json; wall-clock keys left out) leaf by leaf, and
       every SavedModel under W/export/NAME/VERSION: the outputs of each signature
       called here on fixed seeded inputs, and its stored variables (as a multiset).
       "equal" means bitwise; otherwise the largest absolute difference and the keys
       that differ are reported. A killed workdir that resumes and finishes is a kill
       "survived".

    Resumed runs equal uninterrupted ones bitwise where training draws no stateful
    randomness (the meta-learners, Meta-FAVAE, sCOLA, the small-sample classifiers) and,
    since their SeedGenerator states are checkpointed, where it does (the VAE's
    reparameterisation noise, AugIntAE's triplet seeds, COLA step I's augmentations,
    MSGAN's latents)."""
    wall = time.monotonic()
    base = os.path.join(out, name)
    shutil.rmtree(base, ignore_errors=True)
    _say(f"{name}: uninterrupted reference run")
    reference = _uninterrupted(pipeline, os.path.join(base, "reference"), probe_dir)
    reference_workdir = os.path.join(base, "reference", "workdir")
    reference_exports = exported(reference_workdir, seed)
    report = {"pipeline": name, "t_ref_s": round(reference.seconds, 1),
              "startup_s": round(reference.first_output or 0.0, 1), "seed": seed}
    duration = reference.seconds
    if control:
        _say(f"{name}: uninterrupted control run (T_ref {reference.seconds:.1f} s)")
        control_dir = os.path.join(base, "control")
        duration = min(duration, _uninterrupted(pipeline, control_dir, probe_dir).seconds)
        report["control"] = {
            "result": compare_results(pipeline.results, reference_workdir,
                                      os.path.join(control_dir, "workdir")),
            "exports": compare_exports(reference_exports,
                                       exported(os.path.join(control_dir, "workdir"), seed))}
    report["kill_window_s"] = [report["startup_s"], round(duration, 1)]  # (at the start)
    writes_checkpoints = any("checkpoints" in d for _, d, _ in os.walk(reference_workdir))
    plan = KillPlan(np.random.default_rng([seed, sum(map(ord, name))]), kills,
                    checkpoint_kills if writes_checkpoints else 0,
                    reference.first_output or 0.0, duration)
    report["kills_planned"] = plan.total
    timeout = max(120.0, 5.0 * reference.seconds)
    rounds, kill_records, failure = [], [], None
    while not plan.done and failure is None:
        round_kills, attempts, failure = run_round(len(rounds) + 1, name, pipeline, base,
                                                   plan, timeout, probe_dir)
        for kill in round_kills:
            kill["survived"] = failure is None
        kill_records += round_kills
        record = {"round": len(rounds) + 1, "kills": len(round_kills), "attempts": attempts,
                  "finished": failure is None}
        if failure is None:
            workdir = os.path.join(base, f"round{len(rounds) + 1}", "workdir")
            record["result"] = compare_results(pipeline.results, reference_workdir, workdir)
            record["exports"] = compare_exports(reference_exports, exported(workdir, seed))
        rounds.append(record)
    report.update(_summary(rounds, kill_records, failure), missed_kill_moments=plan.misses)
    report["wall_s"] = round(time.monotonic() - wall, 1)
    report["rounds"], report["kill_records"], report["failure"] = rounds, kill_records, failure
    with open(os.path.join(base, "report.json"), "w") as f:
        json.dump(_jsonable(report), f, indent=2)
    report["report"] = os.path.join(base, "report.json")
    return report


def _summary(rounds, kills, failure):
    """Aggregates over rounds: survived / tried, phases, equality."""
    finished = [r for r in rounds if r["finished"]]

    def aggregate(key):
        compared = [r[key] for r in finished if r[key]["equal"] is not None]
        if not compared:
            return {"equal": None, "max_abs_diff": 0.0, "rounds_equal": 0, "rounds": 0}
        return {"equal": all(c["equal"] for c in compared),
                "max_abs_diff": max(c["max_abs_diff"] for c in compared),
                "rounds_equal": sum(c["equal"] for c in compared), "rounds": len(compared),
                "differ": sorted({k for c in compared for k in c["differ"]})[:12],
                "variables_differ": max(c.get("variables_differ", 0) for c in compared)}

    aimed = [k for k in kills if k["how"] == "aimed"]
    return {
        "kills_tried": len(kills),
        "kills_survived": sum(k["survived"] for k in kills),
        "phases": dict(collections.Counter(k["phase"] for k in kills).most_common()),
        "aimed_checkpoint_kills_mid_write": sum(bool(k["torn"]) for k in aimed),
        "aimed_checkpoint_kills": len(aimed),
        "unreadable_checkpoints_skipped": sum(k.get("unreadable_checkpoints_skipped", 0)
                                              for k in kills),
        "result": aggregate("result"), "exports": aggregate("exports"),
        "resume_failed": failure is not None,
    }


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------
def _equality_cell(summary, control=None):
    if summary["equal"] is None:
        return "n/a (none)"
    rounds = f"{summary['rounds_equal']}/{summary['rounds']} rounds"
    if summary["equal"]:
        cell = f"yes, bitwise ({rounds})"
    elif summary["max_abs_diff"] == 0 and summary["variables_differ"]:
        cell = (f"outputs bitwise; NO: up to {summary['variables_differ']} stored "
                f"variable(s) differ (equal in {rounds})")
    else:
        cell = (f"NO: max abs diff {summary['max_abs_diff']:.3g} (equal in {rounds})")
    if control is not None and not control["equal"] and control["equal"] is not None:
        cell += f" (control run differs too: {control['max_abs_diff']:.3g})"
    return cell


def _jsonable(value):
    """Strict JSON: a non-finite difference (a missing or reshaped value) as "inf"."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def markdown_table(reports) -> str:
    rows = ["| pipeline | kills survived / tried | phases hit | result equal? | "
            "exports equal? | wall time |", "| --- | --- | --- | --- | --- | --- |"]
    for r in reports:
        if "error" in r:
            rows.append(f"| {r['pipeline']} | - | - | - | - | ERROR: {r['error'][:80]} |")
            continue
        phases = ", ".join(f"{p} {n}" for p, n in r["phases"].items())
        if r["aimed_checkpoint_kills"]:
            phases += (f" (aimed kills mid-write: {r['aimed_checkpoint_kills_mid_write']}"
                       f"/{r['aimed_checkpoint_kills']})")
        control = r.get("control", {})
        survived = f"{r['kills_survived']} / {r['kills_tried']}"
        if r["resume_failed"]:
            survived += " FAILED TO RESUME"
        rows.append(
            f"| {r['pipeline']} | {survived} | {phases} | "
            f"{_equality_cell(r['result'], control.get('result'))} | "
            f"{_equality_cell(r['exports'], control.get('exports'))} | "
            f"{r['wall_s']:.0f} s (T_ref {r['t_ref_s']:.0f} s) |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", default=",".join(PIPELINES),
                        help="comma-separated subset of: " + ", ".join(PIPELINES))
    parser.add_argument("--kills", type=int, default=20,
                        help="kills at uniform random moments per pipeline (default 20)")
    parser.add_argument("--checkpoint-kills", type=int, default=2,
                        help="extra kills aimed at checkpoint writes (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--out", default="/tmp/fewgen_kill_resume",
                        help="where the runs go (each pipeline's directory is replaced)")
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="skip the second uninterrupted run")
    parser.add_argument("--no-stack-probe", dest="probe", action="store_false",
                        help="do not ask a killed attempt for its Python stack (the phase "
                             "is then unknown; its last log line is still recorded)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.pipelines.split(",") if n.strip()]
    unknown = [n for n in names if n not in PIPELINES]
    if unknown:
        parser.error(f"unknown pipeline(s) {', '.join(unknown)}; valid: {', '.join(PIPELINES)}")
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    probe_dir = None
    if args.probe:
        probe_dir = os.path.join(out, "_probe")
        os.makedirs(probe_dir, exist_ok=True)
        with open(os.path.join(probe_dir, "sitecustomize.py"), "w") as f:
            f.write(_SITECUSTOMIZE)
    reports = []
    for name in names:
        try:
            report = kill_resume(name, PIPELINES[name], out, args.kills,
                                 args.checkpoint_kills, args.seed, args.control, probe_dir)
        except Exception as e:  # (reported; the other pipelines still run)
            report = {"pipeline": name, "error": f"{type(e).__name__}: {e}"}
            _say(textwrap.indent(report["error"], "  "))
        summary = {k: v for k, v in report.items() if k not in ("kill_records", "rounds")}
        print(json.dumps(_jsonable(summary)), flush=True)
        reports.append(report)
    print()
    print(markdown_table(reports))
    return 1 if any(r.get("resume_failed") or "error" in r for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
