"""tf.distribute strategy from `config.distribute`.

  auto          TPU if a TPU resolver finds one (Colab / Cloud TPU), MirroredStrategy
                if several GPUs are visible, else the default (single-device) strategy
  default       tf.distribute.get_strategy(): one device, no replication
  mirrored      MirroredStrategy over all local GPUs, or over all logical CPU devices
                when there is no GPU (see `split_cpu`)
  multi_worker  MultiWorkerMirroredStrategy (TF_CONFIG describes the cluster)
  tpu           TPUStrategy; fails with a clear message when no TPU is reachable

One strategy object serves a whole process (`make_strategy` returns the same one for
the same name): separate MirroredStrategy objects can clash in their collective-op
keys, and a pipeline that trains a generator and then a meta-learner needs both under
one strategy.

Models (and their optimizers' variables, see `training.fit_resumable`) must be created
under `strategy.scope()`. Every strategy computes the same update as one device
(tests/distribute_test.py): meta-learners divide per-replica loss sums by the GLOBAL
meta-batch size; generators that train on batches of images also need each replica's
noise to be its rows of the global batch's draw (`global_batch_rows`) and BatchNorm on
the global batch's statistics (`batch_normalization`).
"""

import keras
import tensorflow as tf
from absl import logging

from fewgen_tf import config as config_lib
from fewgen_tf.errors import ConfigError

STRATEGIES = config_lib.DISTRIBUTE_STRATEGIES  # the names config.distribute takes


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


_STRATEGIES = {}


def split_cpu(num_devices: int) -> None:
    """Make the CPU appear as `num_devices` logical devices (`config.cpu_devices`), so
    that `mirrored` and `multi_worker` replicate on a machine without GPUs (tests, and a
    check of a distributed config before it goes to GPUs / TPUs). It must happen before
    TensorFlow initialises its devices; 0 or 1 leaves the CPU as it is."""
    config_lib.check_value("cpu_devices", num_devices)
    if num_devices <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    try:
        tf.config.set_logical_device_configuration(cpus[0], wanted)
    except RuntimeError:  # devices already initialised (e.g. a second run in one process)
        have = len(tf.config.list_logical_devices("CPU"))
        if have != num_devices:
            raise ConfigError(
                f"cpu_devices={num_devices}, but TensorFlow already initialised {have} CPU "
                "device(s) in this process; set it in a fresh process") from None


def set_threads(intra_op: int, inter_op: int) -> None:
    """Size TensorFlow's thread pools (`config.intra_op_threads`, `inter_op_threads`;
    0 keeps TensorFlow's default). Meta-learning runs thousands of small ops (convolutions
    on 5-25 images); splitting each over every core costs more than it gains, while
    running independent ops (the tasks of a meta-batch) side by side on one thread each
    does not (measured in benchmarks/RESULTS.md). Thread counts never change results.
    Like `split_cpu` it must happen before TensorFlow initialises its runtime; in a
    process where it already has (tests, notebooks), a different request is logged and
    ignored."""
    for name, wanted, get, set_ in (
            ("intra_op_threads", intra_op, tf.config.threading.get_intra_op_parallelism_threads,
             tf.config.threading.set_intra_op_parallelism_threads),
            ("inter_op_threads", inter_op, tf.config.threading.get_inter_op_parallelism_threads,
             tf.config.threading.set_inter_op_parallelism_threads)):
        config_lib.check_value(name, wanted)
        if wanted == get():
            continue
        try:
            set_(wanted)
            logging.info("TensorFlow %s: %d", name, wanted)
        except RuntimeError:
            logging.warning("%s=%d ignored: TensorFlow's runtime is already initialised in "
                            "this process (it keeps %d); set it in a fresh process", name,
                            wanted, get())


def _mirrored_devices():
    """All local GPUs; without GPUs every logical CPU device (MirroredStrategy's own
    default would take CPU:0 alone)."""
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def make_strategy(name: str) -> tf.distribute.Strategy:
    config_lib.check_value("distribute", name)
    if name not in _STRATEGIES:
        _STRATEGIES[name] = _new_strategy(name)
    return _STRATEGIES[name]


def _new_strategy(name):
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(_mirrored_devices())
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


# ------------------------------------------------------------------- replica-aware layers
def global_batch_rows(draw, local_rows):
    """This replica's rows of ONE draw made for the global batch.

    `draw(rows)` makes `rows` rows of noise (it may advance a mirrored SeedGenerator:
    every replica advances it alike). Under one replica it is just `draw(local_rows)`;
    under R replicas every replica draws `R * local_rows` rows and keeps rows
    `[r * local_rows, (r + 1) * local_rows)` for its replica id r, which is how
    tf.distribute splits a global batch among replicas in order. So the images of the
    global batch meet the noise they would meet on one device, and no two replicas
    share noise (a SeedGenerator alone would give every replica the same numbers)."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas == 1:
        return draw(local_rows)
    rows = draw(local_rows * replicas)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * local_rows
    return rows[start:start + local_rows]


def gather_replicas(context, value):
    """The replicas' `value`s [n, ...] stacked in replica order [R * n, ...] (every
    replica the same n), the order in which tf.distribute split the global batch. Built
    on a sum (each replica's rows at its offset, zeros elsewhere: exact), not on
    `ReplicaContext.all_gather`, which under MultiWorkerMirroredStrategy (TF 2.21) fails
    with "destinations can not be empty". Integers travel as float32 (exact below 2^24)."""
    replicas = context.num_replicas_in_sync
    dtype = value.dtype
    rows = tf.cast(value, tf.float32) if dtype.is_integer else value
    n = tf.shape(rows)[0]
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * n
    padding = tf.concat([[[start, (replicas - 1) * n - start]],
                         tf.zeros([tf.rank(rows) - 1, 2], tf.int32)], 0)
    gathered = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.pad(rows, padding))
    gathered = tf.ensure_shape(gathered, [None] + list(value.shape[1:]))
    return tf.cast(tf.round(gathered), dtype) if dtype.is_integer else gathered


def replica_seed(seed):
    """A stateless seed pair (int32 [2]) for this replica: `seed` itself under one
    replica (single-device results unchanged), `seed` folded with the replica id under
    several, so that per-image draws made from it differ between replicas. Use it where
    the step's maths is per replica anyway (pairings within the batch, as AugIntAE's) and
    an exact global-batch draw would buy nothing."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return seed
    folded = tf.random.experimental.stateless_fold_in(
        tf.cast(seed, tf.int64), tf.cast(context.replica_id_in_sync_group, tf.int64))
    return tf.cast(folded % (2 ** 30), seed.dtype)


def batch_normalization(**kwargs):
    """Keras BatchNormalization for a network trained on batches of images: with several
    replicas at build time (the model is built under the run's strategy) its batch
    statistics are the global batch's (`synchronized=True`, three small all-reduces per
    layer and step), so a distributed step equals one device's step; with one replica it
    is the plain layer (bitwise the same numbers as before). Not for the meta-learners:
    their BatchNorm runs per task (`nets.layers.BatchStatNorm`)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return keras.layers.BatchNormalization(synchronized=replicas > 1, **kwargs)
