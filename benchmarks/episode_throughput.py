r"""Episode pipeline throughput: how fast data/ feeds a meta-learner.

  python benchmarks/episode_throughput.py --dataset=omniglot --data_root=../shared/data
  python benchmarks/episode_throughput.py --dataset=synthetic

Prints one JSON line: dataset load time, training episodes/s through tf.data (meta-batch
4, endless stream) and the time to build and iterate 1000 fixed evaluation episodes.
"""

import json
import os
import platform
import time

from absl import app, flags

from fewgen_tf.config import base_config

flags.DEFINE_enum("dataset", "synthetic", ["synthetic", "omniglot"], "Dataset to sample.")
flags.DEFINE_string("data_root", os.environ.get("FEWGEN_DATA_DIR", "../shared/data"),
                    "Folder holding omniglot/ (for --dataset=omniglot).")
flags.DEFINE_integer("ways", 5, "N")
flags.DEFINE_integer("shots", 1, "K")
flags.DEFINE_integer("queries", 5, "Q for training episodes (evaluation uses 15).")
flags.DEFINE_integer("meta_batch_size", 4, "Episodes per meta-batch.")
flags.DEFINE_integer("batches", 2000, "Training meta-batches to time.")
FLAGS = flags.FLAGS


def main(_):
    from fewgen_tf.data import episodes, registry

    config = base_config()
    config.data.name = FLAGS.dataset
    config.data.root = FLAGS.data_root
    config.data.split = "lasium" if FLAGS.dataset == "omniglot" else "random"
    start = time.perf_counter()
    parts = registry.load_splits(config.data)
    load_s = time.perf_counter() - start

    train = episodes.episode_dataset(parts["train"], FLAGS.ways, FLAGS.shots, FLAGS.queries,
                                     seed=0, stream="train", meta_batch_size=FLAGS.meta_batch_size)
    iterator = iter(train)
    next(iterator)  # warm up the pipeline
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(iterator)
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    evaluation = episodes.episode_dataset(parts["test"], FLAGS.ways, FLAGS.shots, 15, seed=42,
                                          stream="test", num_episodes=1000)
    count = sum(1 for _ in evaluation)
    eval_s = time.perf_counter() - start

    print(json.dumps({
        "benchmark": "episode_throughput", "dataset": FLAGS.dataset,
        "ways": FLAGS.ways, "shots": FLAGS.shots, "queries": FLAGS.queries,
        "meta_batch_size": FLAGS.meta_batch_size, "load_s": round(load_s, 2),
        "train_episodes_per_s": round(FLAGS.batches * FLAGS.meta_batch_size / train_s, 1),
        "eval_1000_tasks_s": round(eval_s, 2), "eval_tasks": count,
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    app.run(main)
