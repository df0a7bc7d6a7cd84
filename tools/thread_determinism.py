r"""Do MAML meta-steps repeat bitwise across processes and thread-pool settings?

  python tools/thread_determinism.py [--steps=20] [--settings=0/0,0/0,1/4,1/4,1/1,1/1]

Each setting INTRA/INTER runs in a fresh process (thread pools are fixed at TensorFlow's
start): the library's second-order MAML (conv4, Omniglot-shaped random tasks, seed 0)
takes 1 and then `--steps` meta-steps with `fit` from the same initial weights; the
script prints the largest weight difference between every pair of runs after 1 and after
`--steps` steps (0.0 = bitwise equal), as one JSON line per pair.
"""

import itertools
import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

flags.DEFINE_integer("steps", 20, "Meta-steps of the long comparison.")
flags.DEFINE_string("settings", "0/0,0/0,1/4,1/4,1/1,1/1", "INTRA/INTER per run.")
flags.DEFINE_string("child", "", "Internal: INTRA/INTER,OUT.npz (one run).")
FLAGS = flags.FLAGS


def _one_run(intra, inter, out):
    import numpy as np
    import tensorflow as tf

    from fewgen_tf import distribute
    distribute.set_threads(intra, inter)
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.meta import factory

    config = add_meta_learning(base_config(), "maml")
    rng = np.random.default_rng(0)
    batches = {
        "support_images": rng.uniform(size=(FLAGS.steps, 4, 5, 28, 28, 1)).astype(np.float32),
        "support_labels": np.tile(np.arange(5, dtype=np.int32), (FLAGS.steps, 4, 1)),
        "query_images": rng.uniform(size=(FLAGS.steps, 4, 25, 28, 28, 1)).astype(np.float32),
        "query_labels": np.tile(np.repeat(np.arange(5, dtype=np.int32), 5), (FLAGS.steps, 4, 1)),
    }
    weights = {}
    for steps in (1, FLAGS.steps):
        learner = factory.build_learner(config, (28, 28, 1))  # same seed: same start
        data = tf.data.Dataset.from_tensor_slices({k: v[:steps] for k, v in batches.items()})
        learner.fit(data, epochs=1, verbose=0)
        for i, v in enumerate(learner.net.trainable_variables):
            weights[f"{steps}_{i}"] = v.numpy()
    np.savez(out, **weights)


def main(_):
    if FLAGS.child:
        setting, out = FLAGS.child.split(",")
        intra, inter = (int(x) for x in setting.split("/"))
        return _one_run(intra, inter, out)
    import numpy as np

    settings = FLAGS.settings.split(",")
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, setting in enumerate(settings):
            path = os.path.join(tmp, f"run{i}.npz")
            subprocess.run([sys.executable, __file__, f"--child={setting},{path}",
                            f"--steps={FLAGS.steps}"], check=True, stderr=subprocess.DEVNULL)
            paths.append(dict(np.load(path)))
        for (i, a), (j, b) in itertools.combinations(enumerate(paths), 2):
            diff = {n: max(float(np.abs(a[k] - b[k]).max()) for k in a if k.startswith(f"{n}_"))
                    for n in (1, FLAGS.steps)}
            print(json.dumps({"run_a": f"{i}:{settings[i]}", "run_b": f"{j}:{settings[j]}",
                              "max_abs_diff_after_1_step": diff[1],
                              f"max_abs_diff_after_{FLAGS.steps}_steps": diff[FLAGS.steps]}))


if __name__ == "__main__":
    app.run(main)
