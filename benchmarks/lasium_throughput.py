r"""LASIUM throughput on Omniglot-shaped data (random pixels: speed only).

  python benchmarks/lasium_throughput.py --generator=msgan --mixed_bfloat16
  python benchmarks/lasium_throughput.py --generator=vae

Prints one JSON line: generator training images/s (batch 128) and task generation
tasks/s (5-way, 1 shot + 5 queries, meta-batch 4, through the tf.data pipeline), to
compare with the meta-learner's consumption (benchmarks/meta_throughput.py: tasks/s =
4 x meta_iterations_per_s).
"""

import json
import os
import platform
import time

from absl import app, flags

flags.DEFINE_enum("generator", "msgan", ["msgan", "vae"], "Trainable generator.")
flags.DEFINE_bool("mixed_bfloat16", False, "MSGAN step in mixed_bfloat16.")
flags.DEFINE_integer("steps", 20, "Timed generator steps.")
flags.DEFINE_integer("batches", 50, "Timed task meta-batches.")
FLAGS = flags.FLAGS


def main(_):
    import numpy as np
    import tensorflow as tf

    from fewgen_tf.config import add_lasium, add_meta_learning, base_config
    from fewgen_tf.generators import factory
    from fewgen_tf.lasium.tasks import LatentTaskSampler

    config = add_lasium(add_meta_learning(base_config()), FLAGS.generator, "n")
    config.lasium.mixed_bfloat16 = FLAGS.mixed_bfloat16
    generator = factory.build_generator(config, (28, 28, 1))
    images = np.random.default_rng(0).uniform(size=(128, 28, 28, 1)).astype(np.float32)
    data = tf.data.Dataset.from_tensors(images).repeat()
    generator.fit(data, epochs=1, steps_per_epoch=2, verbose=0)  # trace
    start = time.perf_counter()
    generator.fit(data, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
    images_per_s = FLAGS.steps * 128 / (time.perf_counter() - start)

    sampler = LatentTaskSampler(generator, 5, 1, 5, "n", epsilon=0.0, translate=5,
                                real_images=images if FLAGS.generator == "vae" else None)
    iterator = iter(sampler.dataset(seed=0, meta_batch_size=4))
    next(iterator)
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(iterator)
    tasks_per_s = FLAGS.batches * 4 / (time.perf_counter() - start)
    print(json.dumps({
        "benchmark": "lasium_throughput", "generator": FLAGS.generator,
        "mixed_bfloat16": FLAGS.mixed_bfloat16, "train_images_per_s": round(images_per_s, 1),
        "task_generation_tasks_per_s": round(tasks_per_s, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    app.run(main)
