r"""Do autoencoders generalise to unseen domains? (AugIntAE paper, section 3, Table 1.)

For every trained autoencoder given (`--autoencoder=name=WORKDIR`, a finished run of any
encoder-based generator: augintae-pipeline runs, a VAE), the average per-pixel
reconstruction error |x - G(E(x))| on the 0-255 scale (the paper's "per-pixel L2":
for one grey pixel the L2 norm is the absolute difference; the root mean square is
printed beside it) on up to `--images` images of each column:

  mnist          the 10k MNIST test digits (white strokes on black)
  omniglot_bg    Omniglot background characters (the `lake` split's train + val)
  omniglot_eval  Omniglot evaluation characters (the `lake` split's test)
  noise          uniform white noise (the control: an identity map would score 0)

MNIST is inverted to black-on-white for models trained on Omniglot (and Omniglot for
models trained on MNIST) so that every column is in the model's own polarity: the
question is whether new SHAPES are reconstructed, not new colours. Rows are the models;
one JSON line each.

  FEWGEN_DATA_DIR=../shared/data python experiments/augintae_generalisation.py \
      --autoencoder=ae_omniglot=/tmp/runs/t2_ae --autoencoder=augintae_omniglot=/tmp/runs/t2_augintae
"""

import json

import numpy as np
from absl import app, flags

flags.DEFINE_multi_string("autoencoder", [], "name=WORKDIR of a finished run")
flags.DEFINE_integer("images", 2000, "images per column (a fixed random subset)")
flags.DEFINE_integer("seed", 0, "which images, and the noise")
FLAGS = flags.FLAGS


def columns(count, seed):
    """{column: images in [0, 1] with WHITE background}: MNIST is inverted here."""
    from fewgen_tf.config import base_config
    from fewgen_tf.data import registry, rng

    def subset(images, key):
        order = rng.permutation(rng.derive_key("generalisation", seed, key), len(images))
        return images[np.sort(order[:count])]

    config = base_config()
    config.data.name, config.data.split, config.data.image_size = "omniglot", "lake", 28
    omniglot = registry.load_splits(config.data)
    background = np.concatenate([omniglot["train"].images, omniglot["val"].images])
    config.data.name, config.data.subset, config.data.split = "mnist", "test", "all"
    mnist = registry.load_splits(config.data)["train"].images  # split "all": all in train
    noise = rng.uniform(rng.derive_key("generalisation-noise", seed),
                        (count,) + background.shape[1:]).astype(np.float32)
    return {"mnist": 1.0 - subset(mnist, "mnist"),
            "omniglot_bg": subset(background, "bg"),
            "omniglot_eval": subset(omniglot["test"].images, "eval"),
            "noise": noise}


def reconstruction_errors(generator, images, batch=500):
    """(mean |x - x'|, root mean square) over all pixels, on the 0-255 scale."""
    import tensorflow as tf

    out = np.concatenate([generator.decode(generator.encode(tf.constant(images[i:i + batch])))
                          .numpy() for i in range(0, len(images), batch)])
    difference = 255.0 * (out - images)
    return float(np.mean(np.abs(difference))), float(np.sqrt(np.mean(difference ** 2)))


def trained_on_white(workdir):
    with open(f"{workdir}/config.json") as f:
        return json.load(f)["data"]["name"] != "mnist"


def main(argv):
    del argv
    from fewgen_tf.stages.generator import generator_of_run

    data = columns(FLAGS.images, FLAGS.seed)
    for spec in FLAGS.autoencoder:
        name, workdir = spec.split("=", 1)
        generator = generator_of_run(workdir, data["noise"].shape[1:])
        white = trained_on_white(workdir)
        row = {"row": name, "workdir": workdir, "images_per_column": FLAGS.images}
        for column, images in data.items():
            images = images if white or column == "noise" else 1.0 - images
            mean_abs, rms = reconstruction_errors(generator, images)
            row[column] = round(mean_abs, 2)
            row[column + "_rms"] = round(rms, 2)
        print(json.dumps(row, sort_keys=True), flush=True)


if __name__ == "__main__":
    app.run(main)
