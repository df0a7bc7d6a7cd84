"""`config.pipeline` -> the module whose `run(config, workdir)` runs it: the one place
every pipeline registers. A method's pipelines live in its folder
(`fewgen_tf/methods/<method>/`); this folder holds the registry and the method-free
pipelines (preview, supervised meta-learning).

Modules are named by path and imported only when `config.pipeline` names them, so a
config error is reported before TensorFlow loads, and shared code imports no method.
Each entry also names the checks of its method's keys (`"module:function"` in the
method's config.py, which imports no TensorFlow) and the config sections it reads.
"""

import contextlib
import dataclasses
import importlib
from typing import Optional, Tuple

from fewgen_tf import config as config_lib
from fewgen_tf import progress
from fewgen_tf import workdir as workdir_lib
from fewgen_tf import workdir_lock
from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import registry as generator_registry


@dataclasses.dataclass(frozen=True)
class PipelineEntry:
    module: str                     # "package.module" with run(config, workdir)
    checks: Optional[str] = None    # "package.module:function": (config) -> None
    needs: Tuple[str, ...] = ()     # the config sections it reads beyond base_config's


_LEARNING = ("meta", "train")
_FEWSHOT_GENERATOR = ("generator", "gen_eval")
PIPELINES = {
    "preview": PipelineEntry("fewgen_tf.pipelines.preview"),
    "supervised": PipelineEntry("fewgen_tf.pipelines.supervised", needs=_LEARNING),
    "lasium": PipelineEntry("fewgen_tf.methods.lasium.pipeline",
                            "fewgen_tf.methods.lasium.config:check_lasium",
                            _LEARNING + ("generator", "lasium")),
    "augintae": PipelineEntry("fewgen_tf.methods.augintae.pipeline",
                              "fewgen_tf.methods.augintae.config:check_augintae_pipeline",
                              _FEWSHOT_GENERATOR + ("augintae", "augment")),
    "cola": PipelineEntry("fewgen_tf.methods.cola.pipeline_cola",
                          "fewgen_tf.methods.cola.config:check_cola_pipeline",
                          _FEWSHOT_GENERATOR + ("cola", "augment")),
    "scola": PipelineEntry("fewgen_tf.methods.cola.pipeline_scola",
                           "fewgen_tf.methods.cola.config:check_cola_pipeline",
                           _FEWSHOT_GENERATOR + ("cola", "augment")),
    "small_sample": PipelineEntry("fewgen_tf.methods.cola.pipeline_small_sample",
                                  "fewgen_tf.methods.cola.config:check_small_sample",
                                  ("generator", "cola", "small_sample")),
    "meta_favae": PipelineEntry("fewgen_tf.methods.meta_favae.pipeline",
                                "fewgen_tf.methods.meta_favae.config:check_meta_favae_pipeline",
                                _FEWSHOT_GENERATOR + ("meta_favae",)),
}


def check_config(config) -> None:
    """Every check that applies to `config`, before anything is read, trained or
    written: the pipeline is known and has the sections it reads; the shared vocabulary
    (`fewgen_tf.config.check_config`); the pipeline's method checks and the generator's
    (named in PIPELINES and GENERATORS, imported here by path; each check runs once).
    Raises ConfigError naming the key, the value and what is valid. Imports no
    TensorFlow."""
    name = config.pipeline if "pipeline" in config else None
    if name not in PIPELINES:
        raise ConfigError(f"unknown pipeline {name!r}; valid: {', '.join(sorted(PIPELINES))}")
    entry = PIPELINES[name]
    missing = [section for section in entry.needs if section not in config]
    if missing:
        raise ConfigError(f"pipeline {name} reads {', '.join(s + '.*' for s in missing)}, "
                          "which this config lacks (start it from the method's add_* in its "
                          "config.py)")
    config_lib.check_config(config)
    checks = [entry.checks]
    if "generator" in config:
        checks.append(generator_registry.entry(config.generator.name).checks)
    for path in dict.fromkeys(c for c in checks if c):
        generator_registry.function_at(path)(config)


def run(config, workdir: str):
    """Check the whole config (`check_config`) and the workdir, then run
    `config.pipeline`. Under `multi_worker` only the chief writes `workdir`; the other
    workers run the same pipeline on a temporary workdir of their own (see
    `workdir.own_workdir`).

    config.json is the record of what produced the workdir's checkpoints and results, so
    a run that fails must leave it as it was: the run holds it (`workdir.PendingConfig`)
    until it first writes a checkpoint, a result file or an export, or ends well. A config that fails its checks, data that cannot be
    read or give the episodes asked for, or checkpoints that cannot be restored under the
    new setting (even after config.json was deleted) therefore stop the run before it
    touches config.json; a rerun with the fix is then judged against the old one.
    Derived values (e.g. COLA's K = 0) are filled in first (`registry.complete_config`),
    so config.json records the values used. The run holds the workdir's lock
    (`workdir_lock.WorkdirLock`) from its checks to its end: a second run on the same
    workdir is refused at once, naming the holder, and touches nothing."""
    if not str(workdir or "").strip():
        raise ConfigError("--workdir is empty: give the directory this run writes to")
    generator_registry.complete_config(config)
    check_config(config)
    with contextlib.ExitStack() as held:
        if workdir_lib.is_chief(config):  # the chief's lock stands for the whole cluster
            held.enter_context(workdir_lock.WorkdirLock(workdir))
        return _run_locked(config, workdir)


def _run_locked(config, workdir):
    workdir_lib.check_resumable(workdir, config, generator_registry.resume_keys(config))
    own = workdir_lib.own_workdir(workdir, config)  # a temporary one for non-chief workers
    if own != workdir:
        from absl import logging

        logging.info("this worker writes to its temporary workdir %s (the chief writes %s)",
                     own, workdir)
    workdir_lib.remove_torn_writes(own)  # what a killed run's unfinished writes left
    progress.plan([])  # the pipeline names its stages; none left from an earlier run
    from fewgen_tf import distribute  # late: imports TensorFlow

    try:
        with workdir_lib.PendingConfig(own, config) as pending:
            distribute.split_cpu(config.cpu_devices)  # before any TensorFlow op
            distribute.set_threads(config.intra_op_threads, config.inter_op_threads)
            result = importlib.import_module(PIPELINES[config.pipeline].module).run(
                config, own)
            pending.commit()  # a run that wrote nothing else (preview, ...)
        return result
    finally:
        workdir_lib.remove_own_workdir(own)
