r"""Data hallucination with interpolations (AugIntAE paper, section 5, Table 3), on the
659 Omniglot evaluation characters (EMNIST is not available here).

Every character keeps `--train_per_class` of its 20 drawings for training and the rest
for testing (fixed by `--split_seed`). A classifier (metrics/classifier.py, strided4 of
64 filters, Adam 1e-3, batch 64) learns the 659 classes with one augmentation:

  none      real drawings only;
  mixup     every batch adds a same-class pixel interpolation 0.5 a + 0.5 b per real image;
  <name>    every batch adds G(slerp(E(a), E(b), 0.5)) of a trained autoencoder per real image
            (`--autoencoder=name=WORKDIR`, e.g. the Table 2 AE and AugIntAE runs, trained
            on the background characters only: no test class was ever seen);

`--protocol=fair` (the default): every row trains `--steps` steps on `--batch_size` REAL
drawings a step, augmented rows with as many interpolations beside them (batches of
2 x batch_size), so a row differs from `none` only by the added interpolations.
`--protocol=paper`: every row trains on batches of `--batch_size` (augmented rows: half
real, half interpolated) and `none` for twice the steps ("the same batch size but train
for twice as long"), which gives `none` twice the real images of the others. a and b
are two different training drawings of one class (every unordered pair, made once).
Each row is `--runs` classifier seeds: accuracy on the held-out drawings, mean +- CI95;
one JSON line per row, then a summary line.

  FEWGEN_DATA_DIR=../shared/data python experiments/augintae_hallucination.py \
      --autoencoder=ae=AE_RUN --autoencoder=augintae=AUGINTAE_RUN
"""

import itertools
import json
import time

import numpy as np
from absl import app, flags

flags.DEFINE_multi_string("autoencoder", [], "name=WORKDIR of a trained augintae-pipeline run")
flags.DEFINE_integer("train_per_class", 10, "training drawings per character (of 20)")
flags.DEFINE_integer("split_seed", 0, "which drawings train")
flags.DEFINE_integer("steps", 1500, "classifier steps (protocol paper: none twice as many)")
flags.DEFINE_integer("batch_size", 64, "real drawings a step (protocol paper: the whole batch)")
flags.DEFINE_enum("protocol", "fair", ["fair", "paper"], "see the module docstring")
flags.DEFINE_integer("runs", 10, "classifier seeds per row")
flags.DEFINE_integer("filters", 64, "classifier width")
flags.DEFINE_string("backbone", "strided4", "classifier backbone (meta.backbones)")
flags.DEFINE_list("only", [], "rows to run (default: none, mixup and every autoencoder)")
FLAGS = flags.FLAGS


def split_drawings(split, per_class, seed):
    """(train_images, train_labels, test_images, test_labels): `per_class` drawings of
    every class train, the others test; which ones is fixed by `seed`."""
    from fewgen_tf.data import rng

    train_x, train_y, test_x, test_y = [], [], [], []
    for c in range(split.num_classes):
        images = split.class_images(c)
        order = rng.permutation(rng.derive_key("hallucination", seed, c), len(images))
        train_x.append(images[order[:per_class]])
        test_x.append(images[order[per_class:]])
        train_y += [c] * per_class
        test_y += [c] * (len(images) - per_class)
    return (np.concatenate(train_x), np.asarray(train_y, np.int64),
            np.concatenate(test_x), np.asarray(test_y, np.int64))


def same_class_pairs(labels):
    """Every unordered pair (i, j), i < j, of images of one class: two index arrays."""
    first, second = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        for i, j in itertools.combinations(members, 2):
            first.append(i)
            second.append(j)
    return np.asarray(first), np.asarray(second)


def interpolation_pool(kind, images, labels, generator=None, batch=512):
    """(images, labels) of the 0.5 interpolation of every same-class pair."""
    import tensorflow as tf

    from fewgen_tf.methods.augintae.model import slerp

    first, second = same_class_pairs(labels)
    if kind == "mixup":
        pool = 0.5 * images[first] + 0.5 * images[second]
    else:
        codes = np.concatenate([generator.encode(tf.constant(images[i:i + batch])).numpy()
                                for i in range(0, len(images), batch)])
        pool = np.concatenate([
            generator.decode(slerp(codes[first[i:i + batch]], codes[second[i:i + batch]],
                                   0.5)).numpy()
            for i in range(0, len(first), batch)])
    return pool.astype(np.float32), labels[first]


def main(argv):
    del argv
    from fewgen_tf.config import base_config
    from fewgen_tf.data import registry
    from fewgen_tf.metrics.classifier import train_classifier
    from fewgen_tf.metrics.fewshot import accuracy_summary
    from fewgen_tf.stages.generator import generator_of_run

    config = base_config()
    config.data.name, config.data.split, config.data.image_size = "omniglot", "lake", 28
    novel = registry.load_splits(config.data)["test"]
    train_x, train_y, test_x, test_y = split_drawings(novel, FLAGS.train_per_class,
                                                      FLAGS.split_seed)
    autoencoders = dict(a.split("=", 1) for a in FLAGS.autoencoder)
    rows = ["none", "mixup"] + list(autoencoders)
    rows = [r for r in rows if not FLAGS.only or r in FLAGS.only]
    summary = {}
    for row in rows:
        start = time.time()
        sources, steps, batch = [(train_x, train_y)], FLAGS.steps, FLAGS.batch_size
        if row == "none" and FLAGS.protocol == "paper":
            steps = 2 * FLAGS.steps
        if row != "none":
            generator = (generator_of_run(autoencoders[row], train_x.shape[1:])
                         if row in autoencoders else None)
            sources.append(interpolation_pool("mixup" if row == "mixup" else "latent",
                                              train_x, train_y, generator))
            if FLAGS.protocol == "fair":
                batch = 2 * FLAGS.batch_size  # batch_size real + batch_size interpolated
        accuracies = []
        for run in range(FLAGS.runs):
            classifier = train_classifier(sources, novel.num_classes, steps, seed=run,
                                          batch_size=batch, filters=FLAGS.filters,
                                          backbone=FLAGS.backbone)
            accuracies.append(classifier.accuracy(test_x, test_y))
        result = accuracy_summary(accuracies)
        result.update(row=row, steps=steps, batch_size=batch, protocol=FLAGS.protocol,
                      runs=FLAGS.runs, wall_s=round(time.time() - start, 1),
                      pool=len(sources[-1][0]) if row != "none" else 0,
                      train_per_class=FLAGS.train_per_class, classes=novel.num_classes,
                      source=autoencoders.get(row, ""), accuracies=accuracies)
        summary[row] = f"{100 * result['mean']:.2f} +- {100 * result['ci95']:.2f}"
        print(json.dumps(result, sort_keys=True), flush=True)
    print(json.dumps({"summary": summary}, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
