r"""Meta-FAVAE meta-iterations/s on Omniglot-shaped tasks (random pixels: speed only).

  python benchmarks/meta_favae_throughput.py [--variant=favae] [--meta_batches=1,2]
      [--iterations=10] [--upsampling=transposed] [--jit_compile] [--width=1]
      [--baseline_model=PATH] [--intra_op_threads=0 --inter_op_threads=0]

The paper's settings (Algorithm 1: K 10, n_VAE 5, n_D 1, n_G 5, g 4; 28x28x1, width 1).
Every setting is built and traced first, then timed in turns (one compiled `train_step`
call each, `--iterations` rounds), so a load that comes and goes on a shared machine hits
them alike: compare the rows of one run, not runs. Prints one JSON line a setting:
`meta_iterations_per_s` and `tasks_per_s` (from the median step), with the load average
at the start (another job on the CPU slows every row). `--baseline_model=PATH` also times
another copy of fewgen_tf/methods/meta_favae/model.py (e.g. `git show
main:fewgen_tf/methods/meta_favae/model.py > /tmp/before.py`) at one task a
meta-iteration: a before / after ratio measured back to back.

`call_overhead_ms` is a step with no inner rounds (the call, the outer Adam and the
metrics): the most that running several meta-iterations per call (steps_per_execution)
could save per meta-iteration. `gflop_per_meta_iteration` counts the convolutions and
matmuls of Algorithm 1 (forward 1x, backward 2x where a gradient is taken).
"""

import importlib.util
import json
import os
import platform
import time

from absl import app, flags

flags.DEFINE_enum("variant", "favae", ["favae", "avae", "figr"], "Meta-FAVAE variant.")
flags.DEFINE_list("meta_batches", ["1", "2"], "Tasks a meta-iteration, one row each.")
flags.DEFINE_integer("iterations", 10, "Timed rounds (each setting one step a round).")
flags.DEFINE_enum("upsampling", "transposed", ["transposed", "resize_conv"], "Dec / G.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step.")
flags.DEFINE_float("width", 1.0, "meta_favae.width.")
flags.DEFINE_string("baseline_model", "", "Another model.py to time beside this one.")
flags.DEFINE_integer("intra_op_threads", 0, "config.intra_op_threads (0: TF's default).")
flags.DEFINE_integer("inter_op_threads", 0, "config.inter_op_threads (0: TF's default).")
FLAGS = flags.FLAGS

SHAPE = (28, 28, 1)


def _settings(module, variant, **overrides):
    if hasattr(module, "default_settings"):  # the declared settings of `variant`
        return module.default_settings(variant, **overrides)
    # (a --baseline_model from before the declarations: its Settings had defaults)
    return module.Settings(vae=variant != "figr", feedback=variant == "favae",
                           mode_seeking_weight=0.0 if variant == "figr" else 1.0, **overrides)


def _build(module, settings, **kwargs):
    import keras

    keras.utils.set_random_seed(0)
    model = module.build_meta_favae(SHAPE, 64, 64, FLAGS.width, settings, seed=0, **kwargs)
    module.compile_meta_favae(model)
    model.build_optimizers()
    return model


def _gflop(variant, width, upsampling):
    """Multiply-adds x 2 of one meta-iteration (one task) of Algorithm 1."""
    import keras

    from fewgen_tf.methods.meta_favae import nets

    def macs(net):
        total = 0
        for layer in net.layers:
            if isinstance(layer, keras.layers.Conv2DTranspose):
                shape, kernel = layer.input.shape, layer.kernel.shape
                total += shape[1] * shape[2] * kernel[0] * kernel[1] * kernel[2] * kernel[3]
            elif isinstance(layer, keras.layers.Conv2D):
                shape, kernel = layer.output.shape, layer.kernel.shape
                total += shape[1] * shape[2] * kernel[0] * kernel[1] * kernel[2] * kernel[3]
            elif isinstance(layer, keras.layers.Dense):
                total += layer.kernel.shape[0] * layer.kernel.shape[1]
        return total

    m = {name: macs(net) for name, net in nets.build_networks(
        SHAPE, 64, 64, width, with_vae=variant != "figr", upsampling=upsampling).items()}

    def round_macs(b):  # n_VAE = 5, n_D = 1, n_G = 5 steps on b images
        vae = 3 * (m["encoder"] + m["decoder"]) * b if "encoder" in m else 0
        d = m["generator"] * 2 * b + 3 * m["discriminator"] * 3 * b
        g = 3 * m["generator"] * 2 * b + m["discriminator"] * b + 2 * m["discriminator"] * 2 * b
        return 5 * vae + d + 5 * g

    total = 10 * round_macs(4)
    if variant == "favae":  # the feedback round on 4 + 16 images, and its 4 generations
        total += round_macs(20) + m["generator"] * 4
    return 2 * total / 1e9


def main(_):
    import numpy as np
    import tensorflow as tf

    from fewgen_tf import distribute
    from fewgen_tf.methods.meta_favae import model as meta_favae

    distribute.set_threads(FLAGS.intra_op_threads, FLAGS.inter_op_threads)
    load = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    batches = [int(b) for b in FLAGS.meta_batches]
    tasks = tf.constant(rng.uniform(size=(max(batches), 4) + SHAPE).astype(np.float32))

    rows = []  # (name, meta_batch, module, settings, kwargs)
    if FLAGS.baseline_model:
        spec = importlib.util.spec_from_file_location("baseline_model", FLAGS.baseline_model)
        baseline = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(baseline)
        rows.append(("baseline", 1, baseline, _settings(baseline, FLAGS.variant), {}))
    for b in batches:
        rows.append(("this", b, meta_favae, _settings(meta_favae, FLAGS.variant),
                     {"upsampling": FLAGS.upsampling}))
    rows.append(("call_overhead", 1, meta_favae, _settings(
        meta_favae, "avae" if FLAGS.variant == "favae" else FLAGS.variant, rounds=0),
        {"upsampling": FLAGS.upsampling}))

    steps = []
    for name, b, module, settings, kwargs in rows:
        model = _build(module, settings, **kwargs)
        step = tf.function(model.train_step, jit_compile=FLAGS.jit_compile)
        argument = tasks[0] if b == 1 else tasks[:b]  # (one task: Algorithm 1's step)
        start = time.perf_counter()
        step(argument)["update_norm"].numpy()
        steps.append((step, argument, time.perf_counter() - start, []))
    for step, argument, _, _ in steps:  # (the first call after tracing another function
        step(argument)["update_norm"].numpy()  # ran ~6x slower here once: not timed)
    for _ in range(FLAGS.iterations):
        for step, argument, _, times in steps:
            start = time.perf_counter()
            step(argument)["update_norm"].numpy()
            times.append(time.perf_counter() - start)

    common = {"benchmark": "meta_favae_throughput", "variant": FLAGS.variant,
              "width": FLAGS.width, "upsampling": FLAGS.upsampling,
              "jit_compile": FLAGS.jit_compile, "intra_op_threads": FLAGS.intra_op_threads,
              "inter_op_threads": FLAGS.inter_op_threads, "iterations": FLAGS.iterations,
              "load_average_1min_at_start": round(load, 2),
              "machine": f"{platform.machine()} {os.cpu_count()} cores",
              "date": time.strftime("%Y-%m-%d")}
    gflop = _gflop(FLAGS.variant, FLAGS.width, FLAGS.upsampling)
    for (name, b, *_), (_, _, first_s, times) in zip(rows, steps):
        median = float(np.median(times))
        record = {**common, "model": name, "meta_batch": b, "first_call_s": round(first_s, 1),
                  "step_s_median": round(median, 3)}
        if name == "call_overhead":
            record = {**common, "model": name, "call_overhead_ms": round(1000 * median, 1)}
        else:
            record.update(meta_iterations_per_s=round(1 / median, 3),
                          tasks_per_s=round(b / median, 3),
                          gflop_per_meta_iteration=round(b * gflop, 1),
                          gflop_per_s=round(b * gflop / median, 1))
        print(json.dumps(record))


if __name__ == "__main__":
    app.run(main)
