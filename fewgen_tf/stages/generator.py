"""Train a generator (any entry of `generators.registry`) on unlabeled images, or
restore one trained in another workdir: the step every generator-based method shares
(LASIUM's task source, AugIntAE, COLA, Meta-FAVAE, the generative metrics).

Training goes through `training.fit_resumable(phase="generator")`: checkpoints in
`checkpoints/generator/` with resume, TensorBoard in `tensorboard/generator/`,
metrics.jsonl records with `"phase": "generator"`, and after every epoch a grid of
images decoded from the same fixed latents in `samples/generator_epochNNNN.png`.
"""

import os

import keras
import tensorflow as tf
from absl import logging

from fewgen_tf import distribute, training, visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.generators import registry

GRID = 8  # the sample grid is 8 x 8 images from fixed latents


class SampleGrid(keras.callbacks.Callback):
    """samples/generator_epochNNNN.png: images from the same latents after every epoch."""

    def __init__(self, generator, workdir, seed):
        super().__init__()
        self.generator, self.workdir = generator, workdir
        self.latents = generator.sample_latents(GRID * GRID, tf.constant([seed, 7], tf.int64))

    def on_epoch_end(self, epoch, logs=None):
        images = self.generator.decode(self.latents).numpy()
        rows = [list(images[r * GRID:(r + 1) * GRID]) for r in range(GRID)]
        workdir_lib.save_png(self.workdir, f"generator_epoch{epoch + 1:04d}.png",
                             visualize.tile(rows))


def load_trained_generator(generator, config):
    """Restore the generator trained in the workdir `generator.from_workdir`, so that one
    generator serves several runs (e.g. LASIUM's n / ro / oc rows with one VAE, or the
    generative metrics of a finished run) without being trained again. Only the model
    part is read; a different architecture or latent size is a clear error."""
    g = config.generator
    directory = os.path.join(g.from_workdir, "checkpoints", "generator")
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        raise ConfigError(f"generator.from_workdir: no generator checkpoint in {directory}; "
                          "give the workdir of a run that trained one")
    try:
        status = tf.train.Checkpoint(model=generator).restore(latest).expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ConfigError(
            f"generator.from_workdir: {latest} is not a {g.name} with latent_dim "
            f"{g.latent_dim} for these images ({str(e).splitlines()[0][:200]})") from None
    logging.info("reusing the %s generator of %s", g.name, latest)
    return generator


def generator_of_run(workdir, image_shape):
    """The generator trained by the finished run in `workdir`, rebuilt from the run's own
    config.json (name, latent size, method options) and restored from its checkpoints:
    how experiments and notebooks reuse a trained model without repeating its config. For
    a run that itself reused a generator (`generator.from_workdir`, e.g. an evaluation
    with other generation settings), the generator comes from that workdir, with this
    run's settings."""
    config = workdir_lib.finished_run_config(workdir, "generator", "generator")
    if not config.generator.from_workdir:  # (a run that reused another's: that one)
        config.generator.from_workdir = workdir
    return load_trained_generator(registry.build_generator(config, tuple(image_shape)), config)


def train_generator(config, workdir, images):
    """The generator of `config.generator` for `images` ([N,H,W,C] in [0, 1], labels
    never used): built under the run's strategy, then trained for `generator.epochs`
    passes with `fit` (resumable), trained in stages by its method's `train_unlabelled` hook
    (COLA), restored from `generator.from_workdir`, or loaded pretrained from
    `generator.path`."""
    g = config.generator
    entry = registry.entry(g.name)
    registry.check_trained_here(g)
    if len(images) == 0:
        raise DataError("no images to train the generator on")
    batch = min(g.batch_size, len(images))
    steps_per_epoch = max(1, len(images) // batch)
    total_steps = g.epochs * steps_per_epoch if entry.budget == "epochs" else None
    if entry.budget == "pipeline" and not g.from_workdir:  # its method's stages (hook)
        logging.info("training the %s generator in stages on %d unlabeled images",
                     g.name, len(images))
        return entry.hook("train_unlabelled")(config, workdir, images)
    with distribute.make_strategy(config.distribute).scope():
        generator = registry.build_generator(config, images.shape[1:], total_steps)
    if entry.budget is None:
        logging.info("pretrained %s generator from %s", g.name, g.path)
        return generator
    if g.from_workdir:
        return load_trained_generator(generator, config)

    def make_dataset(start_step):
        data = tf.data.Dataset.from_tensor_slices(images)
        data = data.shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True)
        return (data.repeat().batch(batch, drop_remainder=True).skip(start_step)
                .prefetch(tf.data.AUTOTUNE))

    logging.info("training the %s generator for %d epochs of %d steps on %d unlabeled images",
                 g.name, g.epochs, steps_per_epoch, len(images))
    training.fit_resumable(generator, make_dataset, total_steps,
                           steps_per_epoch, workdir, phase="generator",
                           callbacks=[SampleGrid(generator, workdir, config.seed)])
    return generator
