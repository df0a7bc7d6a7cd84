r"""Meta-learner throughput on Omniglot-shaped tasks (random pixels: speed only).

  python benchmarks/meta_throughput.py --algorithm=maml [--intra_op_threads=1 --inter_op_threads=4] [--eval_shots=5]

5-way 1-shot, 5 queries, meta-batch 4, 5 inner steps (the LASIUM Omniglot setting);
evaluation adapts 50 steps with 15 queries. Prints one JSON line with
`meta_iterations_per_s` (one `fit` window after a warm-up that includes tracing),
`step_ms_median` (the same compiled step called one at a time) and `eval_tasks_per_s`.
"""

import json
import os
import platform
import time

from absl import app, flags

flags.DEFINE_enum("algorithm", "maml", ["maml", "fomaml", "protonets", "reptile"], "Learner.")
flags.DEFINE_integer("iterations", 30, "Timed meta-iterations.")
flags.DEFINE_integer("eval_tasks", 48, "Timed evaluation tasks.")
flags.DEFINE_integer("eval_shots", 1, "Shots of the evaluation tasks (training stays 1-shot).")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
flags.DEFINE_integer("intra_op_threads", 0, "config.intra_op_threads (0: TF's default).")
flags.DEFINE_integer("inter_op_threads", 0, "config.inter_op_threads (0: TF's default).")
FLAGS = flags.FLAGS


def _batch(rng, tasks, queries, shots=1):
    import numpy as np

    return {
        "support_images": rng.uniform(size=(tasks, 5 * shots, 28, 28, 1)).astype(np.float32),
        "support_labels": np.tile(np.repeat(np.arange(5, dtype=np.int32), shots), (tasks, 1)),
        "query_images": rng.uniform(size=(tasks, 5 * queries, 28, 28, 1)).astype(np.float32),
        "query_labels": np.tile(np.repeat(np.arange(5, dtype=np.int32), queries), (tasks, 1)),
    }


def main(_):
    import numpy as np
    import tensorflow as tf

    from fewgen_tf import distribute
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.meta import evaluation, factory

    distribute.set_threads(FLAGS.intra_op_threads, FLAGS.inter_op_threads)

    config = add_meta_learning(base_config(), FLAGS.algorithm)
    config.meta.jit_compile = FLAGS.jit_compile
    learner = factory.build_learner(config, (28, 28, 1))
    rng = np.random.default_rng(0)
    train = tf.data.Dataset.from_tensors(_batch(rng, 4, 5)).repeat()
    start = time.perf_counter()
    learner.fit(train, epochs=1, steps_per_epoch=2, verbose=0)
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    learner.fit(train, epochs=1, steps_per_epoch=FLAGS.iterations, verbose=0)
    train_s = time.perf_counter() - start
    # The same compiled step, one call at a time: the median is robust to the VM's
    # transient slowdowns, which move whole `fit` windows by up to ~25% here.
    iterator, step_ms = iter(train), []
    for _ in range(FLAGS.iterations):
        start = time.perf_counter()
        float(learner.train_function(iterator)["loss"])
        step_ms.append(1000 * (time.perf_counter() - start))

    batch = _batch(rng, evaluation.EVAL_BATCH, 15, FLAGS.eval_shots)
    step = evaluation._compiled_accuracies(learner)
    step(batch)  # trace
    batches = max(1, FLAGS.eval_tasks // evaluation.EVAL_BATCH)
    start = time.perf_counter()
    for _ in range(batches):
        step(batch).numpy()
    eval_s = time.perf_counter() - start
    print(json.dumps({
        "benchmark": "meta_throughput", "algorithm": FLAGS.algorithm,
        "jit_compile": FLAGS.jit_compile, "intra_op_threads": FLAGS.intra_op_threads,
        "inter_op_threads": FLAGS.inter_op_threads, "ways": 5, "shots": 1, "queries": 5,
        "meta_batch_size": 4, "inner_steps": config.meta.inner_steps,
        "warmup_s": round(warmup_s, 1),
        "meta_iterations_per_s": round(FLAGS.iterations / train_s, 2),
        "step_ms_median": round(float(np.median(step_ms)), 1),
        "eval_inner_steps": config.eval.inner_steps, "eval_shots": FLAGS.eval_shots,
        "eval_tasks_per_s": round(batches * evaluation.EVAL_BATCH / eval_s, 2),
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    app.run(main)
