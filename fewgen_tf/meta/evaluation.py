"""Few-shot evaluation: fixed-seed episodes of a class split -> per-task accuracies."""

import sys
import weakref

import keras
import numpy as np
import tensorflow as tf

from fewgen_tf.data import episodes

EVAL_BATCH = 8  # episodes adapted together (parallel iterations of one tf.map_fn)


_COMPILED = weakref.WeakKeyDictionary()


def _compiled_accuracies(learner):
    """One tf.function per learner, so repeated validations do not retrace. (Kept
    outside the learner: a tf.function stored as a Keras model attribute gets tracked
    and breaks the model's call.)"""
    if learner not in _COMPILED:
        _COMPILED[learner] = tf.function(learner.episode_accuracies, reduce_retracing=True)
    return _COMPILED[learner]


def task_accuracies(learner, dataset, eval_config, part: str, num_tasks=None,
                    progress: bool = True) -> np.ndarray:
    """Accuracy on each of the first `num_tasks` (default eval.num_tasks) evaluation
    episodes of `part`: episode i depends only on (eval.seed, part, i)."""
    num_tasks = eval_config.num_tasks if num_tasks is None else num_tasks
    stream = episodes.episode_dataset(
        dataset, eval_config.ways, eval_config.shots, eval_config.queries, eval_config.seed,
        part, num_episodes=num_tasks, meta_batch_size=EVAL_BATCH, drop_remainder=False)
    step = _compiled_accuracies(learner)
    bar = keras.utils.Progbar(num_tasks, unit_name="task",
                              verbose=1 if sys.stdout.isatty() else 2) if progress else None
    results = []
    for batch in stream:
        results.append(step(batch).numpy())
        if bar:
            bar.add(len(results[-1]))
    return np.concatenate(results)
