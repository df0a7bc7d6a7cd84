"""tf.distribute strategy from `config.distribute`.

  auto          TPU if a TPU resolver finds one (Colab / Cloud TPU), MirroredStrategy
                if several GPUs are visible, else the default (single-device) strategy
  default       tf.distribute.get_strategy(): one device, no replication
  mirrored      MirroredStrategy over all local GPUs (or logical CPU devices)
  multi_worker  MultiWorkerMirroredStrategy (TF_CONFIG describes the cluster)
  tpu           TPUStrategy; fails with a clear message when no TPU is reachable

Meta-learners divide per-replica loss sums by the GLOBAL meta-batch size, so every
strategy computes the same update as one device (tests/distribute_test.py).
"""

import tensorflow as tf
from absl import logging

from fewgen_tf.errors import ConfigError

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def _tpu_strategy(required: bool):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.NotFoundError, tf.errors.UnavailableError, RuntimeError) as e:
        if required:
            raise ConfigError(f"distribute='tpu' but no TPU is reachable: {e}") from None
        return None
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name not in STRATEGIES:
        raise ConfigError(f"unknown distribute {name!r}; valid: {', '.join(STRATEGIES)}")
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif name == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "tpu":
        strategy = _tpu_strategy(required=True)
    else:
        strategy = _tpu_strategy(required=False) if _tpu_configured() else None
        if strategy is None:
            gpus = tf.config.list_logical_devices("GPU")
            strategy = (tf.distribute.MirroredStrategy() if len(gpus) > 1
                        else tf.distribute.get_strategy())
    logging.info("distribution: %s with %d replica(s)", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    return strategy


def _tpu_configured() -> bool:
    """Only probe for a TPU where one can exist (Colab / Cloud TPU set these)."""
    import os

    return any(os.environ.get(k) for k in ("COLAB_TPU_ADDR", "TPU_NAME", "TPU_ACCELERATOR_TYPE"))
