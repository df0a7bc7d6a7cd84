"""`config.pipeline` -> the module whose `run(config, workdir)` runs it: the one place
every pipeline registers. A method's pipelines live in its folder
(`fewgen_tf/methods/<method>/`); this folder holds the registry and the method-free
pipelines (preview, supervised meta-learning).

Modules are named by path and imported only when `config.pipeline` names them, so a
config error is reported before TensorFlow loads, and shared code imports no method.
"""

import importlib

from fewgen_tf import workdir as workdir_lib
from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import registry as generator_registry

PIPELINES = {
    "preview": "fewgen_tf.pipelines.preview",
    "supervised": "fewgen_tf.pipelines.supervised",
    "lasium": "fewgen_tf.methods.lasium.pipeline",
    "augintae": "fewgen_tf.methods.augintae.pipeline",
    "cola": "fewgen_tf.methods.cola.pipeline_cola",
    "scola": "fewgen_tf.methods.cola.pipeline_scola",
    "small_sample": "fewgen_tf.methods.cola.pipeline_small_sample",
    "meta_favae": "fewgen_tf.methods.meta_favae.pipeline",
}


def run(config, workdir: str):
    """Write the resolved config to the workdir, then run `config.pipeline`. Under
    `multi_worker` only the chief writes `workdir`; the other workers run the same
    pipeline on a temporary workdir of their own (see `workdir.own_workdir`)."""
    name = config.get("pipeline")
    if name not in PIPELINES:
        raise ConfigError(f"unknown pipeline {name!r}; valid: {', '.join(sorted(PIPELINES))}")
    workdir_lib.check_resumable(workdir, config, generator_registry.resume_keys(config))
    own = workdir_lib.own_workdir(workdir, config)  # a temporary one for non-chief workers
    if own != workdir:
        from absl import logging

        logging.info("this worker writes to its temporary workdir %s (the chief writes %s)",
                     own, workdir)
    workdir_lib.remove_torn_writes(own)  # what a killed run's unfinished writes left
    workdir_lib.write_config(own, config)
    from fewgen_tf import distribute  # late: imports TensorFlow

    distribute.split_cpu(config.get("cpu_devices", 0))  # before any TensorFlow op
    distribute.set_threads(config.get("intra_op_threads", 0), config.get("inter_op_threads", 0))
    try:
        return importlib.import_module(PIPELINES[name]).run(config, own)
    finally:
        workdir_lib.remove_own_workdir(own)
