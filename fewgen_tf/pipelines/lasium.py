"""Pipeline `lasium` (Khodadadeh et al. 2021, Algorithm 1):

  1. train (or load) a generator on the unlabeled train split (labels dropped);
  2. build synthetic N-way tasks in its latent space (strategy n / ro / oc);
  3. meta-learn on them (MAML, FO-MAML, ProtoNets or Reptile), selecting on real
     validation classes;
  4. evaluate on real test classes (eval.json) and export the classifier, the generator
     and the task sampler.
"""


import os

import keras
import tensorflow as tf
from absl import logging

from fewgen_tf import distribute, export, training, visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import episodes, registry
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.generators import factory as generator_factory
from fewgen_tf.lasium.tasks import LatentTaskSampler
from fewgen_tf.pipelines.supervised import meta_learn

_GRID = 8  # the generator's sample grid is 8 x 8 images from fixed latents


class _SampleGrid(keras.callbacks.Callback):
    """samples/generator_epochNNNN.png: images from the same latents after every epoch."""

    def __init__(self, generator, workdir, seed):
        super().__init__()
        self.generator, self.workdir = generator, workdir
        self.latents = generator.sample_latents(_GRID * _GRID, tf.constant([seed, 7], tf.int64))

    def on_epoch_end(self, epoch, logs=None):
        images = self.generator.decode(self.latents).numpy()
        rows = [list(images[r * _GRID:(r + 1) * _GRID]) for r in range(_GRID)]
        workdir_lib.save_png(self.workdir, f"generator_epoch{epoch + 1:04d}.png",
                             visualize.tile(rows))


def load_trained_generator(generator, config):
    """Restore the generator trained in the workdir `lasium.generator_from`, so that one
    generator serves several strategy / meta-learner runs (e.g. Table 7's n / ro / oc
    rows with the same VAE) without being trained again."""
    lasium = config.lasium
    directory = os.path.join(lasium.generator_from, "checkpoints", "generator")
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        raise ConfigError(f"lasium.generator_from: no generator checkpoint in {directory}; "
                          "give the workdir of a finished lasium run")
    try:
        status = tf.train.Checkpoint(model=generator).restore(latest).expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ConfigError(
            f"lasium.generator_from: {latest} is not a {lasium.generator} with latent_dim "
            f"{lasium.latent_dim} for these images ({str(e).splitlines()[0][:200]})") from None
    logging.info("reusing the %s generator of %s", lasium.generator, latest)
    return generator


def train_generator(config, workdir, train_split):
    """Build the generator; train it with `fit` on the train split's images (resumable),
    or restore it from `lasium.generator_from`."""
    lasium = config.lasium
    with distribute.make_strategy(config.distribute).scope():
        generator = generator_factory.build_generator(config, train_split.image_shape)
    if not generator_factory.is_trainable(lasium.generator):
        logging.info("pretrained %s generator from %s", lasium.generator, lasium.generator_path)
        return generator
    if lasium.generator_from:
        return load_trained_generator(generator, config)
    images = train_split.images  # unlabeled: the class labels are never used
    batch = min(lasium.generator_batch_size, len(images))
    steps_per_epoch = max(1, len(images) // batch)

    def make_dataset(start_step):
        data = tf.data.Dataset.from_tensor_slices(images)
        data = data.shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True)
        return (data.repeat().batch(batch, drop_remainder=True).skip(start_step)
                .prefetch(tf.data.AUTOTUNE))

    logging.info("training the %s generator for %d epochs of %d steps on %d unlabeled images",
                 lasium.generator, lasium.generator_epochs, steps_per_epoch, len(images))
    training.fit_resumable(generator, make_dataset, lasium.generator_epochs * steps_per_epoch,
                           steps_per_epoch, workdir, phase="generator",
                           callbacks=[_SampleGrid(generator, workdir, config.seed)])
    return generator


def make_task_sampler(config, generator, train_split):
    lasium, train = config.lasium, config.train
    real = train_split.images if (lasium.generator == "vae" and lasium.vae_real_anchors) else None
    return LatentTaskSampler(generator, train.ways, train.shots, train.queries,
                             lasium.strategy, lasium.variance, lasium.alpha, lasium.epsilon,
                             lasium.max_resamples, lasium.translate, real_images=real)


def save_task_grid(workdir, sampler, seed, num_tasks=3):
    """samples/tasks.png: generated tasks, rows = classes, support then queries."""
    blocks = []
    for index in range(num_tasks):
        episode = {k: v.numpy() for k, v in sampler.sample_task(seed, index).items()}
        blocks.append(visualize.episode_grid(episode, sampler.ways))
    return workdir_lib.save_png(workdir, "tasks.png", visualize.stack_vertically(blocks))


def run(config, workdir):
    splits = registry.load_splits(config.data)
    episodes.check_episode_request(splits["test"], config.eval.ways, config.eval.shots,
                                   config.eval.queries)
    generator = train_generator(config, workdir, splits["train"])
    sampler = make_task_sampler(config, generator, splits["train"])
    try:  # the first tasks are drawn eagerly: an impossible epsilon fails here, clearly
        statistics = sampler.resample_statistics(config.seed, num_tasks=50)
    except tf.errors.InvalidArgumentError as e:
        message = str(e)
        if "LASIUM anchor rejection" not in message:
            raise
        raise DataError(message[message.index("LASIUM anchor rejection"):].split("'")[0]) \
            from None
    workdir_lib.append_metrics(workdir, dict(statistics, phase="task_sampler",
                                             epsilon=config.lasium.epsilon))
    logging.info("anchor rejection: %s", statistics)
    logging.info("wrote %s", save_task_grid(workdir, sampler, config.seed))

    meta_batch = config.meta.meta_batch_size

    def make_train_episodes(start_step):
        return sampler.dataset(config.seed, start=start_step * meta_batch,
                               meta_batch_size=meta_batch)

    result = meta_learn(config, workdir, make_train_episodes, splits["val"], splits["test"])
    if config.export.enabled:
        version = config.export.version
        export.export_generator(generator, export.export_dir(workdir, "generator", version))
        export.export_task_sampler(sampler, export.export_dir(workdir, "task_sampler", version))
    return result


