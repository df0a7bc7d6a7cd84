"""Pipeline `augintae` (AugIntAE, section 4; the AE and IntAE baselines by
`augintae.variant`):

  1. train the autoencoder on the images of `augintae.train_splits` with labels dropped
     (`stages.generator.train_generator`: checkpoints, resume, sample grids, TensorBoard);
  2. the few-shot generation protocol on the novel classes of `gen_eval.split`
     (gen_eval.json, samples/fewshot.png);
  3. samples/interpolations.png: seed-to-seed SLERP paths between two images of one
     novel class (paper Fig. 5);
  4. export: `export/fewshot_generator/V` (generate) and `export/generator/V` (decode,
     sample: the generator contract, e.g. for LASIUM).
"""

import numpy as np
from absl import logging

from fewgen_tf import export, visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import registry, rng
from fewgen_tf.errors import DataError
from fewgen_tf.stages.generation_eval import check_protocol, evaluate_fewshot_generator
from fewgen_tf.stages.generator import train_generator


def training_images(config, splits):
    """The images of `augintae.train_splits` (checked with the config:
    methods/augintae/config.py), concatenated (labels dropped)."""
    names = tuple(config.augintae.train_splits)
    parts = [splits[n].images for n in names if len(splits[n].images)]
    if not parts:
        raise DataError(f"the splits {names} hold no images to train on")
    return np.concatenate(parts, 0)


def interpolation_pairs(split, count, seed):
    """`count` pairs of two different images of one class, classes drawn by `seed`."""
    key = rng.derive_key("augintae-interpolations", seed)
    pairs = []
    classes = [c for c in range(split.num_classes) if len(split.class_images(c)) >= 2]
    if not classes:
        raise DataError(f"split {split.name} has no class with two images to interpolate")
    order = rng.permutation(rng.derive_key(key, 0), len(classes))
    for i in range(min(count, len(classes))):
        images = split.class_images(classes[order[i]])
        first, second = rng.sample_without_replacement(rng.derive_key(key, 1, i),
                                                       len(images), 2)
        pairs.append((images[first], images[second]))
    return pairs


def save_interpolations(workdir, generator, split, count, steps, seed):
    """samples/interpolations.png: each row seed A, decoded SLERP path A -> B, seed B."""
    rows = []
    for a, b in interpolation_pairs(split, count, seed):
        path = generator.interpolate(a, b, steps).numpy()
        rows.append([visualize.spaced_row([a], path, [b])])
    return workdir_lib.save_png(workdir, "interpolations.png", visualize.tile(rows))


def run(config, workdir):
    splits = registry.load_splits(config.data)
    check_protocol(config, splits)  # enough classes and images for gen_eval, before training
    generator = train_generator(config, workdir, training_images(config, splits))
    name = config.augintae.variant
    result = evaluate_fewshot_generator(generator, config, workdir, splits, name=name)
    novel = splits[config.gen_eval.split]
    logging.info("wrote %s", save_interpolations(
        workdir, generator, novel, config.augintae.interpolation_pairs,
        config.augintae.interpolation_steps, config.gen_eval.seed))
    if config.export.enabled:
        version = config.export.version
        export.export_fewshot_generator(generator, novel.image_shape,
                                        export.export_dir(workdir, "fewshot_generator", version))
        export.export_generator(generator, export.export_dir(workdir, "generator", version))
    return result
