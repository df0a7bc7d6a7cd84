r"""LASIUM throughput on Omniglot-shaped data (random pixels: speed only).

  python benchmarks/lasium_throughput.py --generator=msgan [--mixed_bfloat16] [--jit_compile]
  python benchmarks/lasium_throughput.py --generator=vae --algorithm=maml

Prints one JSON line with
- `train_images_per_s`: generator training images/s (batch 128), median of `--repeats`;
- `task_generation_tasks_per_s`: the task pipeline alone (5-way, 1 shot + 5 queries,
  meta-batch 4, +-5 px query translation), drawn as fast as it can go;
- `fed_meta_iterations_per_s` vs `memory_meta_iterations_per_s`: the meta-learner
  (`--algorithm`, the LASIUM Omniglot setting) fed by that pipeline, against the same
  learner fed one in-memory meta-batch. Both share the same cores, so their ratio is
  what generating tasks on the fly costs the meta-learning run.
"""

import json
import os
import platform
import statistics
import time

from absl import app, flags

flags.DEFINE_enum("generator", "msgan", ["msgan", "vae"], "Trainable generator.")
flags.DEFINE_bool("mixed_bfloat16", False, "MSGAN step in mixed_bfloat16.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the generator's train step.")
flags.DEFINE_enum("algorithm", "maml", ["maml", "fomaml", "protonets", "reptile"],
                  "Meta-learner fed by the generated tasks.")
flags.DEFINE_integer("steps", 20, "Timed generator steps per repeat.")
flags.DEFINE_integer("batches", 50, "Timed task meta-batches.")
flags.DEFINE_integer("iterations", 30, "Timed meta-iterations per feeding mode.")
flags.DEFINE_integer("repeats", 3, "Repeats of each timing (the median is reported).")
FLAGS = flags.FLAGS


def _median_rate(run, count):
    """Items/s of `run()` (which handles `count` items), median over FLAGS.repeats."""
    rates = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return round(statistics.median(rates), 2)


def main(_):
    import numpy as np
    import tensorflow as tf

    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.methods.lasium.config import add_lasium
    from fewgen_tf.generators import registry
    from fewgen_tf.methods.lasium.tasks import LatentTaskSampler
    from fewgen_tf.meta import factory as meta_factory

    config = add_lasium(add_meta_learning(base_config(), FLAGS.algorithm), FLAGS.generator, "n")
    config.generator.mixed_bfloat16 = FLAGS.mixed_bfloat16
    config.generator.jit_compile = FLAGS.jit_compile
    generator = registry.build_generator(config, (28, 28, 1))
    images = np.random.default_rng(0).uniform(size=(128, 28, 28, 1)).astype(np.float32)
    data = tf.data.Dataset.from_tensors(images).repeat()
    generator.fit(data, epochs=1, steps_per_epoch=2, verbose=0)  # trace
    images_per_s = _median_rate(
        lambda: generator.fit(data, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0),
        FLAGS.steps * 128)

    meta_batch = config.meta.meta_batch_size
    sampler = LatentTaskSampler(generator, 5, 1, 5, "n", epsilon=0.0, translate=5,
                                real_images=images if FLAGS.generator == "vae" else None)
    tasks = sampler.dataset(seed=0, meta_batch_size=meta_batch)
    iterator = iter(tasks)
    next(iterator)

    def draw():
        for _ in range(FLAGS.batches):
            next(iterator)

    tasks_per_s = _median_rate(draw, FLAGS.batches * meta_batch)

    learner = meta_factory.build_learner(config, (28, 28, 1))
    in_memory = tasks.take(1).cache().repeat()
    learner.fit(in_memory, epochs=1, steps_per_epoch=2, verbose=0)  # trace

    def fit(dataset):
        return lambda: learner.fit(dataset, epochs=1, steps_per_epoch=FLAGS.iterations,
                                   verbose=0)

    memory_rate = _median_rate(fit(in_memory), FLAGS.iterations)
    fed_rate = _median_rate(fit(tasks), FLAGS.iterations)
    print(json.dumps({
        "benchmark": "lasium_throughput", "generator": FLAGS.generator,
        "mixed_bfloat16": FLAGS.mixed_bfloat16, "jit_compile": FLAGS.jit_compile,
        "train_images_per_s": images_per_s,
        "task_generation_tasks_per_s": tasks_per_s, "algorithm": FLAGS.algorithm,
        "meta_batch_size": meta_batch, "fed_meta_iterations_per_s": fed_rate,
        "memory_meta_iterations_per_s": memory_rate,
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    app.run(main)
