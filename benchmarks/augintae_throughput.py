r"""AugIntAE / AE / IntAE training images/s on Omniglot-shaped batches (random pixels:
speed only).

  python benchmarks/augintae_throughput.py [--variants=augintae,ae,intae] [--steps=30]
      [--batch_size=64]

Each variant is built from `configs/augintae_omniglot.py` (the paper's networks, latent 32,
batch 64), its compiled `train_step` traced first, then all variants are timed in turns
(one step each a round, `--steps` rounds), so a load that comes and goes hits them alike:
compare rows of one run, not runs. One JSON line a variant: the median step in ms and
`images_per_s` (seed images a second: one step consumes `batch_size` training images),
plus `augmentation_ms`: the median time of the step's augmentation alone (three affine
warps of the batch, `model.sample_triplet`), the part an input pipeline could take off the
step. The load average at the start is printed (another job slows every row).
"""

import json
import os
import platform
import time

from absl import app, flags

flags.DEFINE_list("variants", ["augintae", "ae", "intae"], "Variants, one row each.")
flags.DEFINE_integer("steps", 30, "Timed rounds.")
flags.DEFINE_integer("batch_size", 64, "Seed images a step.")
FLAGS = flags.FLAGS

SHAPE = (28, 28, 1)


def main(_):
    import numpy as np
    import tensorflow as tf

    from configs import augintae_omniglot
    from fewgen_tf.methods.augintae import model as model_lib

    rng = np.random.default_rng(0)
    batch = tf.constant(rng.uniform(size=(FLAGS.batch_size,) + SHAPE).astype("float32"))
    models, steps = {}, {}
    for variant in FLAGS.variants:
        config = augintae_omniglot.get_config(variant)
        model = model_lib.build_from_config(config, SHAPE, total_steps=1000)
        model.build_optimizers()
        models[variant] = model
        steps[variant] = tf.function(model.train_step)
        steps[variant](batch)  # trace and build
        steps[variant](batch)
    augment = tf.function(lambda images, seed: model_lib.sample_triplet(
        images, models[FLAGS.variants[0]].ranges, seed))
    seed = tf.constant([1, 2], tf.int32)
    augment(batch, seed)
    times = {v: [] for v in FLAGS.variants}
    augment_times = []
    load = os.getloadavg()[0]
    for _ in range(FLAGS.steps):
        for variant in FLAGS.variants:
            start = time.perf_counter()
            logs = steps[variant](batch)
            float(logs["loss"])  # wait for the step
            times[variant].append(time.perf_counter() - start)
        start = time.perf_counter()
        float(tf.reduce_sum(augment(batch, seed)[2]))
        augment_times.append(time.perf_counter() - start)
    for variant in FLAGS.variants:
        step = float(np.median(times[variant]))
        print(json.dumps({
            "variant": variant, "batch_size": FLAGS.batch_size,
            "step_ms": round(1000 * step, 1),
            "images_per_s": round(FLAGS.batch_size / step, 1),
            "augmentation_ms": round(1000 * float(np.median(augment_times)), 1),
            "load_average_at_start": round(load, 2), "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine()}))


if __name__ == "__main__":
    app.run(main)
