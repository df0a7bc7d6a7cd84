"""The few-shot generation protocol: one evaluation for every few-shot generator.

Any object with the DESIGN's contract `generate(seed_images, num_images, seed) ->
images` (AugIntAE, Meta-FAVAE, COLA, and the two reference generators) is measured
the same way on the same fixed tasks (`data.generation_tasks`):

  fidelity   the evaluation network (a classifier of ALL the dataset's classes) names
             the seeds' class for this share of the generated images;
  novelty    distance to the nearest seed / the same for held-out real images (0 = copies);
  diversity  mean pairwise distance among the images generated from one seed set;
  frechet_distance  between generated and held-out real images, on the features named
             beside it (our evaluation network's by default: NOT the papers' FID);
  cas        classifier trained on generated images only, tested on held-out real ones;
  mix        the same classifier trained on seeds only vs 50% seeds / 50% generated;
  domain_rate  share of generated images a training-vs-novel-domain classifier puts in
             the training domain (AugIntAE Table 2).

It writes `gen_eval.json` (the method's metrics, the reference generators' metrics
beside them, the features and the protocol) and `samples/fewshot.png` (each row: the
seeds, then what was generated).
"""

import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from fewgen_tf import visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import generation_tasks as tasks_lib
from fewgen_tf.data import registry, rng
from fewgen_tf.errors import DataError
from fewgen_tf.generators import reference
from fewgen_tf.metrics import classifier_scores, features, frechet, sample_scores
from fewgen_tf.metrics.evaluation_network import evaluation_network as load_evaluation_network
DOMAIN_IMAGES = 2000  # per domain, drawn with a fixed key, for the domain classifier
SAMPLE_ROWS, SAMPLE_IMAGES = 8, 10


def check_seed_images(seed_images, image_shape, num_images):
    """A clear error for what `generate` cannot take (before any TensorFlow trace)."""
    seeds = np.asarray(seed_images)
    if seeds.ndim != 4 or tuple(seeds.shape[1:]) != tuple(image_shape):
        raise DataError(f"seed_images must be [S, {', '.join(map(str, image_shape))}], got "
                        f"shape {tuple(seeds.shape)}")
    if len(seeds) == 0:
        raise DataError("seed_images is empty: give at least one seed image")
    if not isinstance(num_images, (int, np.integer)) or num_images < 1:
        raise DataError(f"num_images must be an int >= 1, got {num_images!r}")
    return seeds.astype(np.float32, copy=False)


def generate_for_tasks(generator, tasks, num_images, seed, image_shape):
    """[tasks, num_images, H, W, C]: task i's images from the generator seed
    derived from (seed, i), so a method's generations are reproducible."""
    outputs = []
    for task in tasks:
        seeds = check_seed_images(task.seed_images, image_shape, num_images)
        generation_seed = rng.derive_key("generate", seed, task.index) % (2 ** 31 - 1)
        images = generator.generate(tf.constant(seeds), tf.constant(num_images, tf.int32),
                                    tf.constant(generation_seed, tf.int32))
        images = np.asarray(images, np.float32)
        if images.shape != (num_images,) + tuple(image_shape):
            raise DataError(f"generate returned shape {images.shape}, expected "
                            f"{(num_images,) + tuple(image_shape)}")
        outputs.append(np.clip(images, 0.0, 1.0))
    return np.stack(outputs)


def _subsample(images, count, key):
    if len(images) <= count:
        return images
    return images[np.sort(rng.sample_without_replacement(key, len(images), count))]


def generation_metrics(generated, tasks, evaluation_network, extractor, class_indices,
                       training_domain, novel_domain, classifier_steps, seed):
    """Every metric of the protocol for one generator's `generated` [T, n, H, W, C]."""
    num_tasks, per_task = generated.shape[:2]
    seeds = np.stack([t.seed_images for t in tasks])
    real = np.stack([t.real_images for t in tasks])
    flat = generated.reshape((-1,) + generated.shape[2:])
    gen_labels = np.repeat(np.arange(num_tasks), per_task)
    real_flat = real.reshape((-1,) + real.shape[2:])
    real_labels = np.repeat(np.arange(num_tasks), real.shape[1])
    seed_flat = seeds.reshape((-1,) + seeds.shape[2:])
    seed_labels = np.repeat(np.arange(num_tasks), seeds.shape[1])
    result = {
        "fidelity": float(np.mean([sample_scores.fidelity(evaluation_network, g, c)
                                   for g, c in zip(generated, class_indices)])),
        "novelty": float(np.mean([sample_scores.novelty(g, t.seed_images, t.real_images)
                                  for g, t in zip(generated, tasks)])),
        "diversity": float(np.mean([sample_scores.diversity(g) for g in generated])),
    }
    result.update(frechet.feature_frechet_distance(extractor, flat, real_flat))
    result["cas"] = classifier_scores.classification_accuracy_score(
        flat, gen_labels, real_flat, real_labels, num_tasks, classifier_steps, seed)
    mix = classifier_scores.mix_protocol(seed_flat, seed_labels, flat, gen_labels, real_flat,
                                  real_labels, num_tasks, classifier_steps, seed)
    result["mix"] = {k: float(v) for k, v in mix.items()}
    domain = classifier_scores.domain_classification_rate(training_domain, novel_domain, flat,
                                                   classifier_steps, seed)
    result["domain_rate"] = {k: float(v) for k, v in domain.items()}
    return result


def check_protocol(config, splits):
    """The split of novel classes `gen_eval.split`, or a DataError when it cannot give
    `gen_eval.num_classes` classes of `seeds_per_class + real_per_class` images each.
    Pipelines call it right after loading the data, so that this is known before their
    generator trains; `evaluate_fewshot_generator` calls it too."""
    gen = config.gen_eval
    if gen.split not in splits:
        raise DataError(f"gen_eval.split {gen.split!r} is not one of {sorted(splits)}")
    novel = splits[gen.split]
    tasks_lib.check_generation_request(novel, gen.num_classes, gen.seeds_per_class,
                                       gen.real_per_class)
    return novel


def evaluate_fewshot_generator(generator, config, workdir, splits, name="generator",
                               with_references=True):
    """Run the protocol of `config.gen_eval` on `generator`; write gen_eval.json and
    samples/fewshot.png; return the gen_eval.json dict."""
    gen = config.gen_eval
    novel = check_protocol(config, splits)
    image_shape = novel.image_shape
    tasks = tasks_lib.generation_tasks(novel, gen.num_classes, gen.seeds_per_class,
                                       gen.real_per_class, gen.seed)
    dataset = registry.load_dataset(config.data)
    evaluation_network = load_evaluation_network(
        dataset, gen.feature_cache, gen.evaluation_network_steps,
        seed=gen.evaluation_network_seed)
    extractor = (evaluation_network if gen.features == "evaluation_network"
                 else features.make_feature_extractor(gen, dataset))
    index_of_key = {int(k): i for i, k in enumerate(dataset.class_keys)}
    class_indices = [index_of_key[t.class_key] for t in tasks]
    key = rng.derive_key("gen_eval-domains", gen.seed)
    training_domain = _subsample(splits["train"].images, DOMAIN_IMAGES, rng.derive_key(key, 0))
    novel_domain = _subsample(novel.images, DOMAIN_IMAGES, rng.derive_key(key, 1))

    generators = {name: generator}
    if with_references:  # (a reference evaluated as the method is not run twice)
        generators.update({k: cls() for k, cls in reference.REFERENCE_GENERATORS.items()
                           if k != name})
    metrics, first = {}, None
    for label, model in generators.items():
        logging.info("few-shot generation protocol: %s on %d classes of %s", label,
                     len(tasks), novel.name)
        generated = generate_for_tasks(model, tasks, gen.images_per_class, gen.seed,
                                       image_shape)
        first = generated if first is None else first
        metrics[label] = generation_metrics(
            generated, tasks, evaluation_network, extractor, class_indices, training_domain,
            novel_domain, gen.classifier_steps, gen.seed)
        logging.info("%s: %s", label, json.dumps(metrics[label]))
    result = {
        "generator": name,
        "metrics": metrics.pop(name),
        "references": metrics,
        "features": extractor.name,
        "evaluation_network": {"name": evaluation_network.name,
                               "held_out_accuracy": evaluation_network.held_out_accuracy},
        "protocol": {"split": gen.split, "classes": len(tasks),
                     "seeds_per_class": gen.seeds_per_class,
                     "real_per_class": gen.real_per_class,
                     "images_per_class": gen.images_per_class, "seed": gen.seed,
                     "classifier_steps": gen.classifier_steps, "dataset": dataset.name},
    }
    os.makedirs(workdir, exist_ok=True)
    workdir_lib.commit_config(workdir)  # a result: the run's config.json first
    workdir_lib.write_json(os.path.join(workdir, "gen_eval.json"), result, indent=2,
                           sort_keys=True)
    save_fewshot_grid(workdir, tasks, first)
    return result


def save_fewshot_grid(workdir, tasks, generated):
    """samples/fewshot.png: a row per class, its seeds, a gap, then generated images."""
    rows = []
    for task, images in list(zip(tasks, generated))[:SAMPLE_ROWS]:
        rows.append([visualize.spaced_row(task.seed_images, images[:SAMPLE_IMAGES])])
    return workdir_lib.save_png(workdir, "fewshot.png", visualize.tile(rows))
