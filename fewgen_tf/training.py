"""`model.fit` with the workdir contract: resumable checkpoints, metrics.jsonl,
TensorBoard, progress bar, and optional best-on-validation selection.

Any Keras model with a `train_step` trains through `fit_resumable`: meta-learners on
episode streams now, generators on image streams later. Training is cut into "epochs"
of `steps_per_epoch` steps; at each epoch end the metrics are logged and a checkpoint
(model, optimizer, best validation score) is written to `checkpoints/`. Re-running on
the same workdir restores the newest checkpoint and continues from its step, with
the data stream restarted at the matching position, so a killed run loses at most one
epoch of work.
"""

import math
import os
import sys

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from fewgen_tf import progress
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data.options import without_autotune_thread
from fewgen_tf.errors import TrainingError


class _MetricsJsonl(keras.callbacks.Callback):
    def __init__(self, workdir, optimizer, phase):
        super().__init__()
        self.workdir, self.optimizer, self.phase = workdir, optimizer, phase

    def on_epoch_end(self, epoch, logs=None):
        record = {k: float(v) for k, v in (logs or {}).items()}
        record["step"] = int(self.optimizer.iterations.numpy())
        if self.phase:
            record["phase"] = self.phase
        workdir_lib.append_metrics(self.workdir, record)


class _Checkpointer(keras.callbacks.Callback):
    def __init__(self, manager, optimizer):
        super().__init__()
        self.manager, self.optimizer = manager, optimizer

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(checkpoint_number=int(self.optimizer.iterations.numpy()))


class _SelectOnValidation(keras.callbacks.Callback):
    """Adds `val_accuracy` to the epoch's logs and keeps the best weights."""

    def __init__(self, validate, best_score, best_checkpoint, best_dir):
        super().__init__()
        self.validate, self.best_score = validate, best_score
        self.best_checkpoint, self.best_dir = best_checkpoint, best_dir

    def on_epoch_end(self, epoch, logs=None):
        score = float(self.validate())
        if logs is not None:
            logs["val_accuracy"] = score
        if score > float(self.best_score.numpy()):
            self.best_score.assign(score)
            self.best_checkpoint.write(os.path.join(self.best_dir, "weights"))
            logging.info("new best validation accuracy %.4f", score)


class _ProgressLines(keras.callbacks.Callback):
    """'[3/5] meta-training: step 120/300 (40%), 36 s in, ~52 s left' now and then
    (fewgen_tf.progress), counting the run's optimizer steps (a resumed run included)."""

    def __init__(self, total_steps, steps_per_epoch, phase):
        super().__init__()
        self.steps_per_epoch, self.epoch = steps_per_epoch, 0
        self.ticker = progress.Ticker(total_steps, "step",
                                      what="" if phase in (None, "generator") else phase)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.ticker.update(self.epoch * self.steps_per_epoch + batch + 1)


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training with the step number as soon as a logged loss is NaN or infinite,
    or any trainable weight is, BEFORE the epoch's checkpoint is written, so the workdir
    keeps the last good one. The weights are checked too because a loss can stay finite
    over NaN weights (ReLU and max-pool turn NaN activations into 0: ProtoNets with a NaN
    learning rate logged exactly ln 5 and exported NaN weights)."""

    def __init__(self, optimizer, directory):
        super().__init__()
        self.optimizer, self.directory = optimizer, directory
        self._weights_finite = None

    def _stop(self, what):
        kept = (f"the last good checkpoint is kept in {self.directory}"
                if tf.train.latest_checkpoint(self.directory) else
                "no checkpoint had been written yet")
        raise TrainingError(
            f"training diverged: {what} at step {int(self.optimizer.iterations.numpy())}; "
            f"{kept} (lower the learning rate and re-run)")

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            value = np.asarray(value)
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                self._stop(f"{name} is {float(value)}")
        if self._weights_finite is None:
            variables = [v for v in self.model.trainable_variables
                         if "float" in str(v.dtype)]

            @tf.function
            def weights_finite():
                return tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in variables]
                                     or [True])

            self._weights_finite = weights_finite
        if not bool(self._weights_finite()):
            self._stop("a trainable weight is NaN or infinite")


RANDOM_STATES = "random_states"


def random_states(model):
    """The states of the model's noise streams (`keras.random.SeedGenerator`: VAE and
    GAN latents, augmentations...). `model.weights` leaves them out, so a checkpoint of
    the model alone would resume with the noise replayed from its start: the resumed run
    would differ from an uninterrupted one (tools/kill_resume.py found it)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def training_checkpoint(model, optimizer, best_score, with_random_states=True):
    """What a resumable run saves: the model, its optimizer (the step count), the best
    validation score and the noise streams' states."""
    states = random_states(model) if with_random_states else []
    return tf.train.Checkpoint(model=model, optimizer=optimizer, best_score=best_score,
                               **({RANDOM_STATES: states} if states else {}))


def _has_random_states(path):
    return any(name.startswith(RANDOM_STATES + "/") for name, _ in tf.train.list_variables(path))


def _restore_newest_readable(checkpoint, manager, directory, legacy_checkpoint=None):
    """Restore the newest checkpoint that can be read. A checkpoint cut short (a kill
    while it was written, a full disk) is skipped with a warning for the one before
    it; if none can be read, the error names the directory instead of a TF trace.
    `legacy_checkpoint` (the same objects without the noise states; None when the model
    has none) restores one written before the states were saved; its noise restarts,
    with a warning."""
    candidates = list(reversed(manager.checkpoints))
    newest_reason = ""
    for index, path in enumerate(candidates):
        try:
            if legacy_checkpoint is not None and not _has_random_states(path):
                logging.warning("checkpoint %s holds no noise-stream states (written by an "
                                "older fewgen_tf): the resumed noise restarts from its seed",
                                path)
                legacy_checkpoint.restore(path).assert_existing_objects_matched()
                return path
            checkpoint.restore(path).assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError) as e:
            # (a truncated file surfaces as IndexError "Read less bytes than requested")
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            newest_reason = newest_reason or reason
            logging.warning("checkpoint %s cannot be read (%s); trying the one before it",
                            path, reason)
            continue
        if index:
            logging.warning("resumed from the older checkpoint %s: %d newer one(s) were "
                            "unreadable", path, index)
        return path
    raise TrainingError(f"none of the checkpoints in {directory} can be read (newest "
                        f"{candidates[0]}: {newest_reason}); were they written under another "
                        "setting (e.g. meta.filters)? Move that directory away to train "
                        "afresh")


def _weights_checkpoint(model):
    """The model's weights only: `Checkpoint(model=...)` would also hold its optimizer,
    and restoring the best weights must not rewind the step count."""
    return tf.train.Checkpoint(weights=list(model.weights))


def _adapt_to_multi_worker(model, dataset):
    """Two Keras 3 (3.15 here) gaps under MultiWorkerMirroredStrategy, bridged for this
    `fit` only (the maths is untouched; other strategies are left alone):
    - `fit` starts by pulling one batch and averaging it with `strategy.reduce`, which
      this strategy cannot do for a dict of tensors ("Attempt to convert a value
      ({'support_images': PerReplica...}) with an unsupported type (<class 'dict'>) to a
      Tensor"; keras-team/keras#20329). The batch only gives shapes, and our models and
      optimizers are built already: build from the dataset's element_spec instead.
    - it averages each logged value with `strategy.reduce("MEAN", v, axis=0)`, which
      fails for the scalar metrics every train_step returns ("Invalid reduction dimension
      0 for input with 0 dimensions"): the logs leave train_step as [1] vectors, so the
      reduction gives the same scalar mean over replicas as the other strategies."""
    if not isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    build, spec = type(model)._maybe_symbolic_build, dataset.element_spec
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: build(
        model, data_batch=spec)
    train_step = type(model).train_step

    def train_step_with_vector_logs(data):
        return tf.nest.map_structure(
            lambda v: tf.reshape(v, [1]) if tf.convert_to_tensor(v).shape.rank == 0 else v,
            train_step(model, data))

    model.train_step = train_step_with_vector_logs


def fit_resumable(model, make_dataset, total_steps: int, steps_per_epoch: int, workdir: str,
                  validate=None, verbose=None, callbacks=(), phase=None):
    """Train `model` (compiled) for `total_steps` optimizer steps, resuming if possible.

    `make_dataset(start_step)` returns the training tf.data stream positioned after
    `start_step` steps. `validate()`, if given, returns a score (higher is better) at
    each epoch end; the best weights are restored when training ends. Returns the
    step count reached. Extra Keras `callbacks` run after the workdir ones. A `phase`
    name (e.g. "generator") keeps a second model of the same workdir apart: its
    checkpoints and TensorBoard logs go to `checkpoints/PHASE`, `tensorboard/PHASE`
    and its metrics.jsonl records carry `"phase": PHASE`.
    """
    if verbose is None:  # a progress bar on a terminal, one line an epoch in a log file,
        # and in a pipeline that names its stages too: its progress lines (fewgen_tf.progress)
        # tell the time left, and a bar redrawn beside them would tear them apart
        verbose = 1 if sys.stdout.isatty() and not progress.planned() else 2
    optimizer = model.optimizer  # its `iterations` is the step count
    # The optimizers' variables must be created under the strategy the model was built
    # in (Keras records it at construction); outside it a distributed run stops with
    # "Need to be inside strategy.scope()".
    with model.distribute_strategy.scope():
        if hasattr(model, "build_optimizers"):  # several optimizers (GANs)
            model.build_optimizers()
        else:
            optimizer.build(model.trainable_variables)
    best_score = tf.Variable(-np.inf, dtype=tf.float64, trainable=False)
    checkpoint = training_checkpoint(model, optimizer, best_score)
    legacy = (training_checkpoint(model, optimizer, best_score, with_random_states=False)
              if random_states(model) else None)
    directory = os.path.join(workdir, "checkpoints", *([phase] if phase else []))
    manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=3)
    # Every worker of a multi-worker run resumes from the CHIEF's checkpoints (a non-chief
    # worker's `directory` is in its own temporary workdir; see workdir.own_workdir).
    shared = workdir_lib.shared_path(directory)
    readable = (manager if shared == directory
                else tf.train.CheckpointManager(checkpoint, shared, max_to_keep=3))
    if readable.checkpoints:
        restored = _restore_newest_readable(checkpoint, readable, shared, legacy)
        logging.info("resumed from %s at step %d", restored, int(optimizer.iterations.numpy()))
    start = int(optimizer.iterations.numpy())
    epochs = math.ceil(total_steps / steps_per_epoch)
    if start >= epochs * steps_per_epoch:
        logging.info("already trained for %d steps; nothing to do", start)
    else:
        best_checkpoint = _weights_checkpoint(model)
        best_dir = os.path.join(directory, "best")
        workdir_callbacks = ([_SelectOnValidation(validate, best_score, best_checkpoint,
                                                  best_dir)] if validate else [])
        workdir_callbacks += [
            _StopOnNonFiniteLoss(optimizer, directory),
            _ProgressLines(epochs * steps_per_epoch, steps_per_epoch, phase),
            _MetricsJsonl(workdir, optimizer, phase),
            _Checkpointer(manager, optimizer),
            keras.callbacks.TensorBoard(
                os.path.join(workdir, "tensorboard", *([phase] if phase else [])),
                update_freq="epoch"),
        ] + list(callbacks)
        dataset = without_autotune_thread(make_dataset(start))  # no stall when fit ends
        _adapt_to_multi_worker(model, dataset)
        # the checkpoints resumed from were read: the run's deferred config.json now
        # describes what this workdir will hold (workdir.PendingConfig)
        workdir_lib.commit_config(workdir)
        # steps after `start` are trained again: their old lines would be duplicates
        workdir_lib.drop_metrics_after(workdir, phase, start)
        model.fit(dataset, epochs=epochs, initial_epoch=start // steps_per_epoch,
                  steps_per_epoch=steps_per_epoch, callbacks=workdir_callbacks, verbose=verbose)
    best_path = os.path.join(directory, "best", "weights")
    if not os.path.exists(best_path + ".index"):  # best of an earlier run of the chief's
        best_path = workdir_lib.shared_path(best_path)
    if validate and os.path.exists(best_path + ".index"):
        _weights_checkpoint(model).read(best_path).assert_existing_objects_matched()
        logging.info("restored the best validation weights (accuracy %.4f)",
                     float(best_score.numpy()))
    return int(optimizer.iterations.numpy())


def restore_finished(model, workdir: str, phase=None) -> str:
    """Load into `model` the weights a finished `fit_resumable` run in `workdir` ended
    with (what it evaluated and exported): its best validation weights where it kept
    them, else its newest checkpoint. Never trains; for experiments and notebooks.
    Returns the path read."""
    directory = os.path.join(workdir, "checkpoints", *([phase] if phase else []))
    best = os.path.join(directory, "best", "weights")
    if os.path.exists(best + ".index"):
        _weights_checkpoint(model).read(best).assert_existing_objects_matched()
        return best
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        raise TrainingError(f"no checkpoint in {directory}: give the workdir of a finished run")
    tf.train.Checkpoint(model=model).read(latest).expect_partial()
    return latest
