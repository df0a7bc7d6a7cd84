r"""Fixed Omniglot episodes in one .npz, so two MAML implementations see the SAME tasks.

  FEWGEN_DATA_DIR=../shared/data python benchmarks/export_episodes.py \
      --iterations=500 --out=/tmp/episodes.npz

Episodes come from the library's own sampler (`fewgen_tf.data.episodes.episode_plans`,
the plans behind `episode_dataset`), Omniglot with the `lasium` class split:
  training: meta-iteration t uses episodes t*M .. t*M+M-1 of stream "train" with
    `--seed`, exactly what the supervised pipeline feeds `learner.fit` (M = meta-batch);
  evaluation: episodes 0 .. eval_tasks-1 of stream "test", seed 42 (eval.seed), on the
    test classes, as `fewgen_tf.meta.evaluation.task_accuracies` draws them.

The file stores each part's images once (float32 NHWC in [0, 1], white background 1.0)
plus index arrays into them, so it stays small for long runs (the readers gather the
images of each meta-batch as they go; episode i's support images are
`{part}_images[{part}_support_index[i]]`):
  {part}_images [U, 28, 28, 1] float32
  {part}_support_index [..., N*K] int32, {part}_query_index [..., N*Q] int32
  {part}_support_labels [..., N*K] int32, {part}_query_labels [..., N*Q] int32
where `...` is [iterations, meta_batch_size] for part "train" and [eval_tasks] for "eval";
scalars ways, shots, train_queries, eval_shots, eval_queries, seed, eval_seed.
"""

import os

import numpy as np
from absl import app, flags

flags.DEFINE_integer("iterations", 500, "Training meta-batches to export.")
flags.DEFINE_integer("meta_batch_size", 4, "Episodes per meta-batch (meta.meta_batch_size).")
flags.DEFINE_integer("ways", 5, "N (training and evaluation).")
flags.DEFINE_integer("shots", 1, "K of the training episodes.")
flags.DEFINE_integer("train_queries", 5, "Q of the training episodes (train.queries).")
flags.DEFINE_integer("eval_tasks", 200, "Evaluation episodes.")
flags.DEFINE_integer("eval_shots", 1, "K of the evaluation episodes.")
flags.DEFINE_integer("eval_queries", 15, "Q of the evaluation episodes.")
flags.DEFINE_integer("seed", 0, "Seed of the training stream (config.seed).")
flags.DEFINE_string("out", "/tmp/fewgen_episodes.npz", "Output .npz.")
FLAGS = flags.FLAGS

EVAL_SEED = 42  # config.eval.seed: the evaluation tasks every fewgen_tf run reports on


def _part(prefix, dataset, ways, shots, queries, seed, stream, indices, shape):
    """Arrays of one part: plans -> images used (deduplicated) + indices into them."""
    from fewgen_tf.data import episodes

    episodes.check_episode_request(dataset, ways, shots, queries)
    plans = episodes.episode_plans(dataset, ways, shots, queries, seed, stream, indices)
    used, index = np.unique(plans, return_inverse=True)
    index = index.reshape(plans.shape).astype(np.int32)  # [E, ways, shots + queries]
    return {
        f"{prefix}_images": dataset.images[used],
        f"{prefix}_support_index": index[:, :, :shots].reshape(shape + (ways * shots,)),
        f"{prefix}_query_index": index[:, :, shots:].reshape(shape + (ways * queries,)),
        f"{prefix}_support_labels": np.broadcast_to(
            np.repeat(np.arange(ways, dtype=np.int32), shots), shape + (ways * shots,)),
        f"{prefix}_query_labels": np.broadcast_to(
            np.repeat(np.arange(ways, dtype=np.int32), queries), shape + (ways * queries,)),
    }


def main(_):
    from fewgen_tf.config import base_config
    from fewgen_tf.data import registry

    config = base_config()
    config.data.name, config.data.split = "omniglot", "lasium"
    parts = registry.load_splits(config.data)
    f = FLAGS
    arrays = _part("train", parts["train"], f.ways, f.shots, f.train_queries, f.seed, "train",
                   range(f.iterations * f.meta_batch_size), (f.iterations, f.meta_batch_size))
    arrays.update(_part("eval", parts["test"], f.ways, f.eval_shots, f.eval_queries, EVAL_SEED,
                        "test", range(f.eval_tasks), (f.eval_tasks,)))
    os.makedirs(os.path.dirname(os.path.abspath(f.out)), exist_ok=True)
    np.savez_compressed(f.out, ways=f.ways, shots=f.shots, train_queries=f.train_queries,
                        eval_shots=f.eval_shots, eval_queries=f.eval_queries, seed=f.seed,
                        eval_seed=EVAL_SEED, **arrays)
    print(f"wrote {f.out}: {f.iterations} meta-batches of {f.meta_batch_size}, "
          f"{f.eval_tasks} evaluation tasks")


if __name__ == "__main__":
    app.run(main)
