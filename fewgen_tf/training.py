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

from fewgen_tf import workdir as workdir_lib


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


def _weights_checkpoint(model):
    """The model's weights only: `Checkpoint(model=...)` would also hold its optimizer,
    and restoring the best weights must not rewind the step count."""
    return tf.train.Checkpoint(weights=list(model.weights))


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
    if verbose is None:  # a progress bar on a terminal, one line an epoch in a log file
        verbose = 1 if sys.stdout.isatty() else 2
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
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, best_score=best_score)
    directory = os.path.join(workdir, "checkpoints", *([phase] if phase else []))
    manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=3)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logging.info("resumed from %s at step %d", manager.latest_checkpoint,
                     int(optimizer.iterations.numpy()))
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
            _MetricsJsonl(workdir, optimizer, phase),
            _Checkpointer(manager, optimizer),
            keras.callbacks.TensorBoard(
                os.path.join(workdir, "tensorboard", *([phase] if phase else [])),
                update_freq="epoch"),
        ] + list(callbacks)
        model.fit(make_dataset(start), epochs=epochs, initial_epoch=start // steps_per_epoch,
                  steps_per_epoch=steps_per_epoch, callbacks=workdir_callbacks, verbose=verbose)
    best_path = os.path.join(directory, "best", "weights")
    if validate and os.path.exists(best_path + ".index"):
        _weights_checkpoint(model).read(best_path).assert_existing_objects_matched()
        logging.info("restored the best validation weights (accuracy %.4f)",
                     float(best_score.numpy()))
    return int(optimizer.iterations.numpy())
