r"""fewgen_tf's MAML on episodes from benchmarks/export_episodes.py: the library's half
of benchmarks/compare_maml.sh (the other half is maml_reference_torch.py).

  python benchmarks/maml_library_on_episodes.py --episodes=/tmp/episodes.npz

The learner is exactly what the supervised pipeline builds:
`factory.build_learner(add_meta_learning(base_config(), "maml"), (28, 28, 1))`
(conv4, meta.init="torch", bn_epsilon 1e-3, 5 inner steps at 0.4, Adam 1e-3, 50
evaluation steps), trained with `learner.fit` on the exported meta-batches in order and
evaluated with `learner.episode_accuracies` on the exported evaluation tasks, 8 at a
time as `fewgen_tf.meta.evaluation` does. Timing as in the torch reference: the first
meta-iteration is a warm-up (`warmup_s`, here including tf.function tracing) and
`train_s` / `iterations_per_s` cover the rest; `eval_s` covers the whole evaluation,
including the tracing of the evaluation function. Prints one JSON line with the torch
reference's fields ("tensorflow_version" / "keras_version" for "torch_version").
"""

import json
import os
import time

from absl import app, flags

flags.DEFINE_string("episodes", None, ".npz from export_episodes.py", required=True)
flags.DEFINE_integer("iterations", 0, "Meta-iterations (0: every exported meta-batch).")
flags.DEFINE_integer("eval_tasks", 0, "Evaluation tasks (0: every exported task).")
flags.DEFINE_bool("first_order", False, "FO-MAML (meta.algorithm=fomaml).")
flags.DEFINE_float("bn_eps", 1e-3, "meta.bn_epsilon.")
flags.DEFINE_integer("seed", 0, "config.seed: the initial weights.")
flags.DEFINE_integer("threads", 0, "TF intra-op threads (0: TensorFlow's default, every core).")
flags.DEFINE_integer("inter_op_threads", 0, "TF inter-op threads (0: TensorFlow's default).")
FLAGS = flags.FLAGS


def _episodes(npz, part, count):
    """tf.data of the first `count` episodes (meta-batches for "train") of `part`, images
    gathered from the part's stored images as the library's episode pipeline does."""
    import tensorflow as tf

    images = tf.constant(npz[f"{part}_images"])
    index = {k: npz[f"{part}_{k}"][:count] for k in
             ("support_index", "query_index", "support_labels", "query_labels")}

    def gather(e):
        return {"support_images": tf.gather(images, e["support_index"]),
                "support_labels": e["support_labels"],
                "query_images": tf.gather(images, e["query_index"]),
                "query_labels": e["query_labels"]}

    return tf.data.Dataset.from_tensor_slices(index).map(gather)


def main(_):
    import keras
    import numpy as np
    import tensorflow as tf

    from fewgen_tf import distribute
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.meta import evaluation, factory

    distribute.set_threads(FLAGS.threads, FLAGS.inter_op_threads)
    npz = dict(np.load(FLAGS.episodes))
    available = npz["train_support_index"].shape[0]
    iterations = FLAGS.iterations or available
    eval_tasks = FLAGS.eval_tasks or npz["eval_support_index"].shape[0]
    if not 2 <= iterations <= available:
        raise app.UsageError(f"--iterations must be 2..{available}")
    config = add_meta_learning(base_config(), "fomaml" if FLAGS.first_order else "maml")
    config.seed = FLAGS.seed
    config.meta.bn_epsilon = FLAGS.bn_eps
    config.train.ways = config.eval.ways = int(npz["ways"])
    learner = factory.build_learner(config, npz["train_images"].shape[1:])

    train = _episodes(npz, "train", iterations)
    start = time.perf_counter()
    learner.fit(train.take(1), epochs=1, shuffle=False, verbose=0)
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    learner.fit(train.skip(1).prefetch(2), epochs=1, shuffle=False, verbose=0)
    train_s = time.perf_counter() - start

    step = evaluation._compiled_accuracies(learner)
    start = time.perf_counter()
    accuracies = np.concatenate([step(b).numpy() for b in _episodes(npz, "eval", eval_tasks)
                                 .batch(evaluation.EVAL_BATCH)])
    eval_s = time.perf_counter() - start

    print(json.dumps({
        "implementation": "fewgen_tf", "algorithm": config.meta.algorithm,
        "iterations": iterations, "warmup_s": round(warmup_s, 2), "train_s": round(train_s, 2),
        "iterations_per_s": round((iterations - 1) / train_s, 3), "eval_tasks": eval_tasks,
        "eval_s": round(eval_s, 2), "accuracy_mean": round(float(accuracies.mean()), 4),
        "ci95": round(float(1.96 * accuracies.std() / np.sqrt(len(accuracies))), 4),
        "seed": FLAGS.seed, "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__, "threads": FLAGS.threads or os.cpu_count(),
        "inter_op_threads": FLAGS.inter_op_threads or os.cpu_count()}))


if __name__ == "__main__":
    app.run(main)
