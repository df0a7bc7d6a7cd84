r"""Where should AugIntAE draw alpha when it generates? (issue 23; paper section 4,
"Few-shot generation": "select a random pair of images, find their latent space
embeddings, sample alpha in [0, 1], and generate the image from the alpha-weighted
mixture of embeddings".)

For each trained AugIntAE run given (`--run=name=WORKDIR`, a finished `augintae`
pipeline run, rebuilt from its own config.json), on the fixed generation tasks of
`--split` (default `val`: held-out BACKGROUND characters, which a run trained with
`augintae.train_splits=("train",)` never saw; the evaluation characters are never
needed here), it scores images decoded from slerp(E(s1), E(s2), alpha) of two
distinct seeds with alpha drawn as:

  reconstruction  alpha = 1: G(E(s1)), the decoder redrawing one seed
  uniform         alpha ~ U[0, 1] (the paper's text)
  uniform_0.25    alpha ~ U[0, 0.25] or U[0.75, 1] (near one of the two seeds)
  mean_of_two     alpha = the mean of two U[0, 1] (the training distribution, biased to
                  the midpoint: what `generate` does)
  midpoint        alpha = 0.5 (the paper's Figure 6)

with the protocol's fidelity (among all 1623 classes; `fidelity_within_split`: among the
split's classes only), novelty and Frechet distance (against the tasks' held-out real
images), beside copying the seeds and the pixel blend. No classifier training: cheap.

  FEWGEN_DATA_DIR=../shared/data python experiments/augintae_sampling.py \
      --run=lat32=RUN_LAT32 --run=lat128=RUN_LAT128
"""

import json

import numpy as np
from absl import app, flags

SAMPLERS = ("reconstruction", "uniform", "uniform_0.25", "mean_of_two", "midpoint")
flags.DEFINE_multi_string("run", [], "name=WORKDIR of a finished augintae run")
flags.DEFINE_string("split", "val", "split whose classes are the tasks (never select on test)")
flags.DEFINE_integer("classes", 40, "tasks (one class each)")
flags.DEFINE_integer("images", 32, "images generated per task")
flags.DEFINE_integer("seed", 42, "tasks and draws")
flags.DEFINE_multi_integer("refine_steps", [0], "Adam steps that refine each seed's code "
                           "toward G(z) = seed before interpolating (0: the encoder's code)")
flags.DEFINE_multi_string("samplers", list(SAMPLERS), "which alpha draws (see above)")
flags.DEFINE_float("refine_lr", 0.05, "Adam step size of the refinement")
flags.DEFINE_multi_string("generate", [], "REFINE:ADAPT:ADAPT_LR: also score the model's own "
                          "`generate` (mean-of-two alpha) with those refine_steps, "
                          "adapt_steps (G's weights fitted to the seeds) and adapt_lr, "
                          "e.g. 30:0:1e-4 (today's default) or 30:50:1e-4")
FLAGS = flags.FLAGS



def draw_alpha(name, count, rng):
    if name == "reconstruction":
        return np.ones(count)
    if name == "uniform":
        return rng.uniform(size=count)
    if name == "uniform_0.25":
        alpha = rng.uniform(0.0, 0.25, size=count)
        return np.where(rng.uniform(size=count) < 0.5, alpha, 1.0 - alpha)
    if name == "mean_of_two":
        return rng.uniform(size=(2, count)).mean(0)
    if name == "midpoint":
        return np.full(count, 0.5)
    raise ValueError(name)


def refined_codes(model, seeds, steps, lr):
    """E(seeds), then `steps` Adam steps on the codes (kept on the unit sphere) that lower
    the per-image mean |G(z) - seed|: the decoder's closest drawing of each seed."""
    import keras
    import tensorflow as tf

    from fewgen_tf.methods.augintae import model as augintae

    codes = tf.Variable(model.encode(tf.constant(seeds)))
    if steps == 0:
        return codes.numpy()
    optimizer = keras.optimizers.Adam(lr)
    target = tf.constant(seeds)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model.decode(codes) - target))
        optimizer.apply_gradients([(tape.gradient(loss, codes), codes)])
        codes.assign(augintae.normalize(codes))
    return codes.numpy()


def decoded(model, seeds, alpha, rng, codes):
    """Images from slerp(E(s_first), E(s_other), alpha) for random ordered seed pairs."""
    import tensorflow as tf

    from fewgen_tf.methods.augintae import model as augintae

    count = len(alpha)
    first = rng.integers(0, len(seeds), size=count)
    other = (first + rng.integers(1, len(seeds), size=count)) % len(seeds)
    latents = augintae.slerp(codes[first], codes[other], tf.constant(alpha, tf.float32))
    return np.clip(model.decode(latents).numpy(), 0.0, 1.0)


def fidelity_within(network, generated, class_indices, split_indices):
    """Share of images whose class, among the split's classes only, is the seeds' (the
    independent judge's setting: a classifier of the novel domain's classes)."""
    hits = []
    for images, c in zip(generated, class_indices):
        logits = network.class_logits(images)[:, split_indices]
        hits.append(np.mean(np.asarray(split_indices)[np.argmax(logits, 1)] == c))
    return float(np.mean(hits))


def scores(generated, tasks, network, class_indices, split_indices):
    from fewgen_tf.metrics import frechet, sample_scores
    real = np.concatenate([t.real_images for t in tasks])
    return {
        "fidelity": float(np.mean([sample_scores.fidelity(network, g, c)
                                   for g, c in zip(generated, class_indices)])),
        "fidelity_within_split": fidelity_within(network, generated, class_indices,
                                                 split_indices),
        "novelty": float(np.mean([sample_scores.novelty(g, t.seed_images, t.real_images)
                                  for g, t in zip(generated, tasks)])),
        "frechet_distance": frechet.feature_frechet_distance(
            network, generated.reshape((-1,) + generated.shape[2:]), real)["frechet_distance"],
    }


def main(argv):
    del argv
    from fewgen_tf.config import base_config
    from fewgen_tf.data import generation_tasks, registry
    from fewgen_tf.generators.reference import REFERENCE_GENERATORS
    from fewgen_tf.metrics.evaluation_network import evaluation_network
    from fewgen_tf.stages.generation_eval import generate_for_tasks
    from fewgen_tf.stages.generator import generator_of_run

    config = base_config()
    config.data.name, config.data.split, config.data.image_size = "omniglot", "lake", 28
    from fewgen_tf.config import add_generation_eval
    add_generation_eval(config)
    splits = registry.load_splits(config.data)
    split = splits[FLAGS.split]
    tasks = generation_tasks.generation_tasks(split, FLAGS.classes, 5, 10, FLAGS.seed)
    dataset = registry.load_dataset(config.data)
    network = evaluation_network(dataset, config.gen_eval.feature_cache,
                                 config.gen_eval.evaluation_network_steps,
                                 seed=config.gen_eval.evaluation_network_seed)
    index_of_key = {int(k): i for i, k in enumerate(dataset.class_keys)}
    class_indices = [index_of_key[t.class_key] for t in tasks]
    split_indices = [index_of_key[int(k)] for k in split.class_keys]

    for name, cls in REFERENCE_GENERATORS.items():
        generated = generate_for_tasks(cls(), tasks, FLAGS.images, FLAGS.seed, split.image_shape)
        print(json.dumps(dict(run="reference", sampler=name, split=FLAGS.split,
                              **scores(generated, tasks, network, class_indices, split_indices))), flush=True)
    for item in FLAGS.run:
        run_name, _, workdir = item.partition("=")
        model = generator_of_run(workdir, split.image_shape)
        for setting in FLAGS.generate:
            refine, adapt, adapt_lr = setting.split(":")
            model.refine_steps, model.adapt_steps = int(refine), int(adapt)
            model.adapt_lr = float(adapt_lr)
            generated = generate_for_tasks(model, tasks, FLAGS.images, FLAGS.seed,
                                           split.image_shape)
            print(json.dumps(dict(
                run=run_name, sampler="generate", split=FLAGS.split, refine_steps=int(refine),
                adapt_steps=int(adapt), adapt_lr=float(adapt_lr),
                **scores(generated, tasks, network, class_indices, split_indices))), flush=True)
        for steps in FLAGS.refine_steps:
            codes = [refined_codes(model, t.seed_images, steps, FLAGS.refine_lr)
                     for t in tasks]
            for sampler in FLAGS.samplers:
                rng = np.random.default_rng(FLAGS.seed)
                generated = np.stack([
                    decoded(model, t.seed_images, draw_alpha(sampler, FLAGS.images, rng), rng,
                            c) for t, c in zip(tasks, codes)])
                print(json.dumps(dict(
                    run=run_name, sampler=sampler, split=FLAGS.split, refine_steps=steps,
                    **scores(generated, tasks, network, class_indices, split_indices))),
                    flush=True)

if __name__ == "__main__":
    app.run(main)
