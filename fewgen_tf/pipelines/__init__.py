"""Pipelines: one module per method, each with `run(config, workdir)`.

Modules are imported only when named by `config.pipeline`, so a config error is
reported before TensorFlow loads.
"""

import importlib

from fewgen_tf import workdir as workdir_lib
from fewgen_tf.errors import ConfigError

PIPELINES = {
    "preview": "fewgen_tf.pipelines.preview",
    "supervised": "fewgen_tf.pipelines.supervised",
    "lasium": "fewgen_tf.pipelines.lasium",
    "augintae": "fewgen_tf.pipelines.augintae",
    "cola": "fewgen_tf.pipelines.cola",
    "scola": "fewgen_tf.pipelines.scola",
    "small_sample": "fewgen_tf.pipelines.small_sample",
    "meta_favae": "fewgen_tf.pipelines.meta_favae",
}


def run(config, workdir: str):
    """Write the resolved config to the workdir, then run `config.pipeline`. Under
    `multi_worker` only the chief writes `workdir`; the other workers run the same
    pipeline on a temporary workdir of their own (see `workdir.own_workdir`)."""
    name = config.get("pipeline")
    if name not in PIPELINES:
        raise ConfigError(f"unknown pipeline {name!r}; valid: {', '.join(sorted(PIPELINES))}")
    workdir_lib.check_resumable(workdir, config)
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
