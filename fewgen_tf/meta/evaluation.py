"""Few-shot evaluation: fixed-seed episodes of a class split -> per-task accuracies."""

import weakref

import numpy as np
import tensorflow as tf

from fewgen_tf import progress as progress_lib
from fewgen_tf.data import episodes
from fewgen_tf.data.options import without_autotune_thread

EVAL_BATCH = 8  # episodes adapted together (parallel iterations of one tf.map_fn)


_COMPILED = weakref.WeakKeyDictionary()


def _compiled_accuracies(learner, transductive):
    """One tf.function per learner and way of answering, so repeated validations do not
    retrace. (Kept outside the learner: a tf.function stored as a Keras model attribute
    gets tracked and breaks the model's call.)"""
    functions = _COMPILED.setdefault(learner, {})
    if transductive not in functions:
        functions[transductive] = tf.function(
            lambda batch: learner.episode_accuracies(batch, transductive=transductive),
            reduce_retracing=True)
    return functions[transductive]


def task_accuracies(learner, dataset, eval_config, part: str, num_tasks=None,
                    progress: bool = True, what: str = "",
                    transductive: bool = False) -> np.ndarray:
    """Accuracy on each of the first `num_tasks` (default eval.num_tasks) evaluation
    episodes of `part`: episode i depends only on (eval.seed, part, i). Inductive (each
    query answered alone, as `classify`) unless `transductive` (the queries of a task
    together, as `classify_task`; meta/learner.py). With `progress`, progress lines name
    `what` is evaluated (fewgen_tf.progress)."""
    num_tasks = eval_config.num_tasks if num_tasks is None else num_tasks
    stream = episodes.episode_dataset(
        dataset, eval_config.ways, eval_config.shots, eval_config.queries, eval_config.seed,
        part, num_episodes=num_tasks, meta_batch_size=EVAL_BATCH, drop_remainder=False)
    stream = without_autotune_thread(stream)  # no stall when the iterator is deleted
    step = _compiled_accuracies(learner, bool(transductive))
    ticker = progress_lib.Ticker(num_tasks, "task", what=what) if progress else None
    results, done = [], 0
    for batch in stream:
        results.append(step(batch).numpy())
        done += len(results[-1])
        if ticker:
            ticker.update(done)
    return np.concatenate(results)
