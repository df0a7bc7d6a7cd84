"""Pipeline `lasium` (Khodadadeh et al. 2021, Algorithm 1):

  1. train (or load) a generator on the unlabeled train split (labels dropped;
     `stages.generator.train_generator`, shared with every generator method);
  2. build synthetic N-way tasks in its latent space (strategy n / ro / oc);
  3. meta-learn on them (MAML, FO-MAML, ProtoNets or Reptile), selecting on real
     validation classes;
  4. evaluate on real test classes (eval.json), beside the untrained network and the
     supervised upper bound on the same tasks where `eval.*_baseline` ask for them
     (summary.json), and export the classifier, the generator and the task sampler.
Each step is a stage of `fewgen_tf.progress`: the log says which one runs, how far it
is and about how long it has left.
What the data or the latent space cannot give (too few classes or images for the
episodes, an impossible `lasium.epsilon`) is refused before the generator trains where
it can be known then: anchors drawn from the prior N(0, I) do not depend on the generator,
so their rejection is tried first; anchors that are encodings of real images (VAE mode)
can only be tried once the encoder is trained.
"""

import types

import tensorflow as tf
from absl import logging

from fewgen_tf import export, progress, visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import augment as augment_lib
from fewgen_tf.data import episodes, registry
from fewgen_tf.errors import DataError
from fewgen_tf.generators import registry as generator_registry
from fewgen_tf.methods.lasium import config as lasium_config
from fewgen_tf.methods.lasium.tasks import LatentTaskSampler
from fewgen_tf.stages.generator import train_generator
from fewgen_tf.stages.meta_learning import meta_learn


def make_task_sampler(config, generator, train_split, image_clusters=None):
    """The task stream of `config.lasium`; `image_clusters` (each train image's cluster)
    where `lasium.cluster_images` is real."""
    lasium, train = config.lasium, config.train
    # Encoder-based generators (VAE, AugIntAE) anchor classes on encodings of real images;
    # real cluster images group the train images by the generator's clusters.
    real = (train_split.images if lasium_config.real_anchors(config)
            or image_clusters is not None else None)
    return LatentTaskSampler(generator, train.ways, train.shots, train.queries,
                             lasium.strategy, lasium.variance, lasium.alpha, lasium.epsilon,
                             lasium.max_resamples, lasium.translate, real_images=real,
                             image_clusters=image_clusters, augment=task_augmentation(lasium))


def task_augmentation(lasium):
    """The AugmentationRanges of `lasium.augment` (characters / natural), or None."""
    kind = lasium.augment
    if kind == "none":
        return None
    return getattr(augment_lib.AugmentationRanges, kind)()


def train_image_clusters(config, workdir, images):
    """Each train image's cluster in the generator's run (this workdir, or
    generator.from_workdir), for `lasium.cluster_images = real`; None otherwise."""
    if config.lasium.cluster_images != "real":
        return None
    entry = generator_registry.entry(config.generator.name)
    source = config.generator.from_workdir or workdir
    clusters = entry.hook("image_clusters")(config, source, images)
    logging.info("tasks of real images grouped by the %s clusters of %s (%d non-empty)",
                 config.generator.name, source, len(set(clusters.tolist())))
    return clusters


def save_task_grid(workdir, sampler, seed, num_tasks=3):
    """samples/tasks.png: generated tasks, rows = classes, support then queries."""
    blocks = []
    for index in range(num_tasks):
        episode = {k: v.numpy() for k, v in sampler.sample_task(seed, index).items()}
        blocks.append(visualize.episode_grid(episode, sampler.ways))
    return workdir_lib.save_png(workdir, "tasks.png", visualize.stack_vertically(blocks))


def anchor_statistics(sampler, seed, num_tasks=50):
    """Anchor resamples of the first `num_tasks` tasks, drawn eagerly: an impossible
    epsilon is a DataError here, clearly, rather than inside tf.data."""
    try:
        return sampler.resample_statistics(seed, num_tasks=num_tasks)
    except tf.errors.InvalidArgumentError as e:
        message = str(e)
        if "LASIUM anchor rejection" not in message:
            raise
        message = message[message.index("LASIUM anchor rejection"):].split("'")[0]
        if sampler.real_images is not None:
            message = message.split("; lower lasium.epsilon")[0] + real_anchor_hint(sampler)
        raise DataError(message) from None


def real_anchor_hint(sampler, count=500):
    """For anchors that encode real images: the scale of their squared distances (the
    N(0, I) rule of thumb does not apply) and that the trained generator is kept."""
    images = sampler.real_images[:count]
    codes = tf.reshape(sampler.generator.encode(images), [tf.shape(images)[0], -1])
    squared = tf.reduce_sum(tf.square(codes[:, None] - codes[None]), -1)
    n = float(codes.shape[0])
    mean = float(tf.reduce_sum(squared)) / max(1.0, n * (n - 1))
    return (f" (the anchors encode real images, lasium.vae_real_anchors: the mean pairwise "
            f"squared distance of this generator's encodings of {int(n)} training images is "
            f"{mean:.3g}); the trained generator is kept: rerun with a lower lasium.epsilon "
            f"or more lasium.max_resamples and it resumes")


def prior_anchor_statistics(config):
    """`anchor_statistics` before the generator exists, where the anchors come from the
    prior N(0, I) (no real anchors, not strategy cluster) of a generator trained here:
    they depend only on the seed, ways, latent size, epsilon and max_resamples. None
    where the trained generator is needed."""
    generator_config = config.generator
    if (lasium_config.real_anchors(config) or config.lasium.strategy == lasium_config.CLUSTER
            or generator_config.from_workdir
            or generator_registry.entry(generator_config.name).budget != "epochs"):
        return None
    stand_in = types.SimpleNamespace(latent_dim=generator_config.latent_dim)
    return anchor_statistics(make_task_sampler(config, stand_in, None), config.seed)


def stage_names(config):
    """The pipeline's stages in order (fewgen_tf.progress)."""
    return (["generator", "task generation", "meta-training"]
            + (["supervised baseline"] if config.eval.supervised_baseline else [])
            + ["evaluation"] + (["export"] if config.export.enabled else []))


def run(config, workdir):
    splits = registry.load_splits(config.data)
    episodes.check_episode_request(splits["test"], config.eval.ways, config.eval.shots,
                                   config.eval.queries)
    if config.train.val_tasks > 0:
        episodes.check_episode_request(splits["val"], config.eval.ways, config.eval.shots,
                                       config.eval.queries)
    if config.eval.supervised_baseline:  # it trains on real labelled train episodes
        episodes.check_episode_request(splits["train"], config.train.ways, config.train.shots,
                                       config.train.queries)
    statistics = prior_anchor_statistics(config)  # before training, where it can be known
    progress.plan(stage_names(config))
    g = config.generator
    with progress.stage("generator", f"{g.name}, {g.epochs} epochs on "
                                     f"{len(splits['train'].images)} unlabeled train images"
                        if not g.from_workdir else f"{g.name} from {g.from_workdir}"):
        generator = train_generator(config, workdir, splits["train"].images)  # labels dropped
    with progress.stage("task generation", f"{config.lasium.strategy} tasks in the "
                                           f"{generator.latent_dim}-d latent space"):
        clusters = train_image_clusters(config, workdir, splits["train"].images)
        sampler = make_task_sampler(config, generator, splits["train"], clusters)
        if statistics is None or generator.latent_dim != config.generator.latent_dim:
            statistics = anchor_statistics(sampler, config.seed)
        workdir_lib.append_metrics_once(workdir, dict(statistics, phase="task_sampler",
                                                      epsilon=config.lasium.epsilon))
        logging.info("anchor rejection: %s", statistics)
        logging.info("wrote %s", save_task_grid(workdir, sampler, config.seed))

    meta_batch = config.meta.meta_batch_size

    def make_train_episodes(start_step):
        return sampler.dataset(config.seed, start=start_step * meta_batch,
                               meta_batch_size=meta_batch)

    def export_generator_and_sampler():
        version = config.export.version
        export.export_generator(generator, export.export_dir(workdir, "generator", version))
        export.export_task_sampler(sampler, export.export_dir(workdir, "task_sampler", version))

    what = (f"{config.meta.algorithm} meta-trained on tasks generated by the {g.name} "
            f"({config.lasium.strategy} strategy): no labels")
    return meta_learn(config, workdir, make_train_episodes, splits["val"], splits["test"],
                      train_split=splits["train"], row=("lasium", what),
                      more_exports=export_generator_and_sampler)
