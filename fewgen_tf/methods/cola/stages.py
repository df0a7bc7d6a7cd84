"""COLA's steps, shared by the pipelines `cola` (COLA, GLO), `scola` and any pipeline that
needs a class-conditional generator trained on a few labelled images (`train_scola`,
e.g. small-sample classification), so none of them imports another.

  cluster_images    step I (Algorithm 2): resumable in checkpoints/cola_clustering/,
                    timed, with the Hungarian solver's share of the time;
  image_clusters    each training image's step-I cluster, read from a finished step I
                    (pseudo-labels for other methods' tasks);
  train_codes       step II (Algorithm 1): resumable in checkpoints/generator/ (so that
                    `generator.from_workdir` restores it, e.g. as LASIUM's source), a grid
                    of reconstructions from fixed codes after every epoch;
  fit_mixture       step III: a Gaussian per cluster (or GLO's EM mixture), then the final
                    checkpoint (with the mixture) in checkpoints/generator/;
  train_scola       sCOLA = step II with one-hot labels as class parts, then step III;
  evaluate_class_generator  CAS on real evaluation images, a Frechet distance on the
                    evaluation network's features, samples/clusters.png.
Images are float32 NHWC in [0, 1]; labels are used only where the method is supervised
(sCOLA) or to score (clustering accuracy, NMI, CAS).
"""

import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from fewgen_tf import distribute, schedules, training, visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import augment, registry
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.methods.cola import config as cola_config
from fewgen_tf.methods.cola import mixtures
from fewgen_tf.methods.cola import model as cola_lib
from fewgen_tf.methods.cola import step1_clustering
from fewgen_tf.methods.cola.losses import make_reconstruction_loss
from fewgen_tf.metrics import clustering as clustering_metrics
from fewgen_tf.metrics import classifier_scores
from fewgen_tf.metrics import features
from fewgen_tf.metrics import frechet
CLUSTERING_PHASE, GENERATOR_PHASE = "cola_clustering", "generator"
GRID = 8


def _indexed_dataset(images, batch, seed):
    """make_dataset(start_step) for fit_resumable: (index, image) batches, pass p over
    the images in the stateless order `stateless_shuffle(range(N), (seed, p))`, passes
    back to back, positioned after `start_step` batches.

    Stateless: a tf.distribute strategy re-instantiates a dataset's `shuffle` op, whose
    order then differs from one device's (measured: other batches from the first step
    under `mirrored`); this order is a function of (seed, pass) alone, so every strategy
    sees one device's global batches."""
    n = len(images)
    images = tf.constant(images)

    def one_pass(p):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int32), seed=tf.stack([tf.constant(seed, tf.int64), p]))
        return tf.data.Dataset.from_tensor_slices(order)

    def make(start_step):
        order = tf.data.Dataset.range(2 ** 62).flat_map(one_pass)
        data = order.batch(batch, drop_remainder=True).skip(start_step)
        return data.map(lambda index: (index, tf.gather(images, index))).prefetch(
            tf.data.AUTOTUNE)
    return make


def augmentation_ranges(config, image_shape):
    """Step I's augmentation: `augment.*` when the config has it, else the character
    ranges for grey images and the natural ones for RGB."""
    if "augment" in config:
        return augment.AugmentationRanges.from_config(config.augment)
    return (augment.AugmentationRanges.characters() if image_shape[-1] == 1
            else augment.AugmentationRanges.natural())


# ------------------------------------------------------------------------ step I
class StepOneEpochs(keras.callbacks.Callback):
    """Step I's work between epochs: from `cola.refine_epoch` on, the refinement
    (`cola.refine_method`: k-means or balanced) at the start of every assignment epoch;
    and, with `labels` (used only to score), the clustering scores of the matching and of
    the encoder at every epoch end, to metrics.jsonl (phase "cola_clustering_scores") and
    the log."""

    def __init__(self, model, images, workdir, labels=None):
        super().__init__()
        self.cola, self.images, self.workdir, self.labels = model, images, workdir, labels

    def on_epoch_begin(self, epoch, logs=None):
        model = self.cola
        if not model.is_assignment_epoch(epoch):
            return
        if model.refine_epoch and epoch >= model.refine_epoch:
            start = time.perf_counter()
            sizes = np.bincount(model.refine(self.images, epoch),
                                minlength=model.num_clusters)
            logging.info("COLA step I, epoch %d: refined (%s; cluster sizes %d-%d, "
                         "%.1f s)", epoch + 1, model.refine_method, int(sizes.min()),
                         int(sizes.max()), time.perf_counter() - start)

    def on_epoch_end(self, epoch, logs=None):
        if self.labels is None:
            return
        scores = clustering_scores(self.cola, self.labels, self.images)
        record = dict({k: round(float(v), 4) for k, v in scores.items()},
                      epoch=epoch + 1, step=int(self.cola.optimizer.iterations.numpy()),
                      phase="cola_clustering_scores")
        workdir_lib.append_metrics(self.workdir, record)
        logging.info("COLA step I, epoch %d: matching accuracy %.3f NMI %.3f; encoder "
                     "accuracy %.3f NMI %.3f", epoch + 1, scores["clustering_accuracy"],
                     scores["nmi"], scores["encoder_accuracy"], scores["encoder_nmi"])


def cluster_images(config, workdir, images, labels=None):
    """(ClusteringModel trained by Algorithm 2, timing dict). Resumes from
    checkpoints/cola_clustering/. ConfigError if cola.num_clusters > len(images).
    `labels` (optional, only to score): the clustering scores after every epoch."""
    c = config.cola
    n = len(images)
    if n == 0:
        raise DataError("no images to cluster")
    batch = min(int(c.cluster_batch_size), n)
    steps = max(1, n // batch)
    total = int(c.cluster_epochs) * steps
    strategy = distribute.make_strategy(config.distribute)
    if isinstance(strategy, tf.distribute.TPUStrategy):
        # (a TPU program cannot call back into Python: the Hungarian solver runs on the
        # host between the encoder's passes)
        logging.warning("COLA step I trains on the host, not the TPU: its matching (Eq. 2) "
                        "is solved by a host function inside every step")
        strategy = distribute.make_strategy("default")
    elif strategy.num_replicas_in_sync > 1 and c.rotnet:
        logging.warning("COLA step I trains on one device: RotNet's alternating epochs "
                        "(cola.rotnet) choose their branch in a tf.cond, inside which the "
                        "%d replicas' sums cannot run (--config.cola.rotnet=False spreads it "
                        "over them; steps II-III use them either way)",
                        strategy.num_replicas_in_sync)
        strategy = distribute.make_strategy("default")
    with strategy.scope():
        model = step1_clustering.build_clustering_model(
            images.shape[1:], n, c.num_clusters, steps, widths=tuple(c.encoder_widths),
            blocks=tuple(c.encoder_blocks), target_variance=float(c.target_variance),
            ranges=augmentation_ranges(config, images.shape[1:]), flip=bool(c.flip),
            views=int(c.views), weight_decay=float(c.weight_decay), seed=config.seed,
            rotnet=bool(c.rotnet), refine_epoch=int(c.refine_epoch),
            refine_method=c.refine_method, assignment_loss=c.assignment_loss)
        model.compile(optimizer=keras.optimizers.SGD(  # B.1: halved every quarter
            schedules.halving_schedule(float(c.cluster_lr), total, 3),
            momentum=float(c.cluster_momentum)), jit_compile=False)  # (numpy_function)
    logging.info("COLA step I: %d epochs of %d steps (batch %d) on %d images, K=%d%s%s",
                 c.cluster_epochs, steps, batch, n, c.num_clusters,
                 "" if model.rotnet else ", no RotNet",
                 f", {model.refine_method} refinement from epoch {model.refine_epoch + 1}"
                 if model.refine_epoch else "")
    start = time.perf_counter()
    training.fit_resumable(model, _indexed_dataset(images, batch, config.seed), total, steps,
                           workdir, phase=CLUSTERING_PHASE,
                           callbacks=[StepOneEpochs(model, images, workdir, labels)])
    seconds = time.perf_counter() - start
    timing = {"step1_seconds": seconds, "hungarian_seconds": model.timer.seconds,
              "hungarian_calls": model.timer.calls,
              "hungarian_share": model.timer.seconds / seconds if seconds > 0 else 0.0}
    return model, timing


def image_clusters(config, workdir, images):
    """Each training image's step-I cluster [N] (int64), read from the finished step I of
    `workdir` (checkpoints/cola_clustering/: `components[assignment]`, what
    `ClusteringModel.clusters` returns), without building or training anything: the
    pseudo-labels another method's tasks can group real images by (LASIUM's
    `lasium.cluster_images = real`). `images` must be the images step I clustered, in
    the same order (only their count is read). ConfigError when `workdir` has no finished
    step I for this many images, before anything trains."""
    directory = os.path.join(workdir, "checkpoints", CLUSTERING_PHASE)
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        raise ConfigError(f"no COLA step-I clustering in {directory}: the images' clusters "
                          "come from a COLA run's step I (cola.class_codes = clusters)")
    names = dict(tf.train.list_variables(latest))
    assignment_name = "model/assignment/.ATTRIBUTES/VARIABLE_VALUE"
    components_name = "model/components/.ATTRIBUTES/VARIABLE_VALUE"
    if assignment_name not in names or components_name not in names:
        raise ConfigError(f"{latest} is not a COLA step-I clustering checkpoint")
    reader = tf.train.load_checkpoint(latest)
    assignment = reader.get_tensor(assignment_name)
    if len(assignment) != len(images):
        raise ConfigError(f"the COLA step I of {workdir} clustered {len(assignment)} images, "
                          f"these training images are {len(images)}: give the COLA run "
                          "trained on this data split (data.name, data.split, cola.train_split)")
    c = config.cola
    steps = max(1, len(images) // min(int(c.cluster_batch_size), len(images)))
    total = int(c.cluster_epochs) * steps
    step_name = "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"
    done = int(reader.get_tensor(step_name)) if step_name in names else int(
        latest.rsplit("-", 1)[-1])
    if done < total:
        raise ConfigError(f"the COLA step I of {workdir} stopped at step {done} of {total}: "
                          "finish that run first (same command and workdir: it resumes)")
    return reader.get_tensor(components_name)[assignment].astype(np.int64)


def clustering_scores(model, labels, images=None):
    """Accuracy (Hungarian-matched) and NMI of the matching (step I's output) and, if
    `images` are given, of the encoder's nearest one-hot mean on them."""
    clusters = model.clusters()
    scores = {"clustering_accuracy": clustering_metrics.clustering_accuracy(labels, clusters),
              "nmi": clustering_metrics.nmi(labels, clusters)}
    if images is not None:
        predicted = model.predict_clusters(images)
        scores["encoder_accuracy"] = clustering_metrics.clustering_accuracy(labels, predicted)
        scores["encoder_nmi"] = clustering_metrics.nmi(labels, predicted)
    return scores


# ----------------------------------------------------------------------- step II
class Reconstructions(keras.callbacks.Callback):
    """samples/generator_epochNNNN.png: G of the first 64 images' codes every epoch."""

    def __init__(self, model, workdir):
        super().__init__()
        self.cola, self.workdir = model, workdir
        self.indices = np.arange(min(GRID * GRID, int(model.codes.shape[0])))

    def on_epoch_end(self, epoch, logs=None):
        images = self.cola.decode(tf.gather(self.cola.codes, self.indices)).numpy()
        rows = [list(images[r * GRID:(r + 1) * GRID]) for r in range(0, len(images) // GRID + 1)]
        workdir_lib.save_png(self.workdir, f"generator_epoch{epoch + 1:04d}.png",
                             visualize.tile([r for r in rows if r]))


def reconstruction_loss(config, image_shape):
    c = config.cola
    return make_reconstruction_loss(c.loss, image_shape, float(c.lap_gamma), int(c.lap_bands),
                                    c.perceptual_model or None, tuple(c.perceptual_layers))


def build_model(config, image_shape, num_clusters, codes=None, steps_per_epoch=1):
    """The COLA model of `config` (generator.latent_dim = d, K = num_clusters)."""
    c = config.cola
    loss_fn = reconstruction_loss(config, image_shape) if codes is not None else None
    return cola_lib.build_cola(image_shape, int(num_clusters), config.generator.latent_dim,
                               c.architecture, bool(c.conditional_bn), float(c.width), codes,
                               loss_fn, steps_per_epoch, config.seed,
                               c.mixture_rank)


def steps_per_epoch(config, num_images):
    """Step II's iterations per epoch: `cola.steps_per_epoch`, or with 0 one pass over
    the images (at least one batch). A fixed number makes an "epoch" the same amount of
    training whatever the data size, as the paper's small-sample protocol does (appendix
    B.3: "same batch size, number of epochs, iterations per epoch and learning schedule"
    on all data sizes): one pass over 50 images is a single step."""
    fixed = cola_config.check_cola_value("cola.steps_per_epoch",
                                         config.cola.steps_per_epoch)
    if fixed:
        return fixed
    return max(1, num_images // min(int(config.generator.batch_size), num_images))


def train_codes(config, workdir, images, class_parts):
    """(COLA model after Algorithm 1 with the codes' class parts `class_parts` [N, K],
    seconds). Resumes from checkpoints/generator/."""
    g, c = config.generator, config.cola
    n = len(images)
    if n == 0:
        raise DataError("no images to train the generator on")
    class_parts = np.asarray(class_parts)
    batch = min(int(g.batch_size), n)
    steps = steps_per_epoch(config, n)
    total = int(g.epochs) * steps
    codes = cola_lib.initial_codes(class_parts, g.latent_dim, float(c.code_sigma), config.seed)
    with distribute.make_strategy(config.distribute).scope():
        model = build_model(config, images.shape[1:], class_parts.shape[1], codes, steps)
        model.compile(optimizer=keras.optimizers.Adam(  # B.2: halved every tenth
                          schedules.halving_schedule(float(g.lr), total, 9)),
                      code_optimizer=keras.optimizers.Adam(
                          schedules.halving_schedule(float(c.code_lr), total, 9)),
                      jit_compile=False)
    logging.info("COLA step II: %d epochs of %d steps (batch %d), %d codes in R^%d, loss %s",
                 g.epochs, steps, batch, n, model.latent_dim, c.loss)
    start = time.perf_counter()
    training.fit_resumable(model, _indexed_dataset(images, batch, config.seed), total, steps,
                           workdir, phase=GENERATOR_PHASE,
                           callbacks=[Reconstructions(model, workdir)])
    return model, time.perf_counter() - start


# ---------------------------------------------------------------------- step III
def fit_mixture(config, model, clusters=None):
    """Step III on the learnt codes: a Gaussian per cluster of `clusters` [N] (COLA,
    sCOLA), or with `clusters` None GLO's EM mixture of K components. Writes the final
    checkpoint (with the mixture) and returns each code's cluster / component."""
    c = config.cola
    codes = model.codes.numpy()
    k = model.num_clusters
    if clusters is not None and model.mixture_rank:
        means, factors, scales = mixtures.fit_cluster_gaussians_low_rank(
            codes, clusters, k, model.mixture_rank, float(c.covariance_reg))
        model.set_low_rank_mixture(means, factors, scales)
        sizes = np.bincount(np.asarray(clusters).ravel(), minlength=k)
        logging.info("COLA step III: low-rank store (rank %d): %d of %d clusters exact "
                     "(<= %d codes; largest %d)", model.mixture_rank,
                     int(np.sum(sizes <= model.mixture_rank + 1)), k,
                     model.mixture_rank + 1, int(sizes.max()))
    elif clusters is not None:
        means, covariances = mixtures.fit_cluster_gaussians(codes, clusters, k,
                                                            float(c.covariance_reg))
        model.set_mixture(means, covariances)
    else:
        weights, means, covariances = mixtures.fit_gaussian_mixture(
            codes, k, config.seed, int(c.em_iterations), float(c.covariance_reg))
        model.set_mixture(means, covariances, weights)
        log_p = mixtures.log_gaussians(codes.astype(np.float64), means, covariances)
        clusters = np.argmax(log_p + np.log(np.maximum(weights, 1e-30)), 1)
    return np.asarray(clusters)


def save_final(model, workdir):
    """The trained model with its mixture, as the newest checkpoint of
    checkpoints/generator/ (the same objects fit_resumable saves, at the same step), so
    a re-run and `generator.from_workdir` both restore the finished model."""
    checkpoint = training.training_checkpoint(
        model, model.optimizer, tf.Variable(-np.inf, dtype=tf.float64, trainable=False))
    workdir_lib.commit_config(workdir)  # a checkpoint of this run (workdir.PendingConfig)
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(workdir, "checkpoints", GENERATOR_PHASE), max_to_keep=3)
    return manager.save(checkpoint_number=int(model.optimizer.iterations.numpy()))


def train_cola(config, workdir, images, labels=None):
    """COLA steps I-III (GLO with `cola.class_codes = "random"`) on `images`, resumable in
    `workdir`: (model with its mixture, each image's cluster or None for GLO before step
    III, step I's scores (empty without `labels`), wall times). `labels` are read only to
    score step I; the method itself never sees them."""
    c = config.cola
    timing, scores, clusters = {}, {}, None
    if c.class_codes == "clusters":
        clustering, timing = cluster_images(config, workdir, images, labels)
        clusters = clustering.clusters()
        if labels is not None:
            scores = clustering_scores(clustering, labels, images)
        class_parts = clustering.targets.numpy()[clustering.assignment.numpy()]
    else:
        class_parts = cola_lib.random_class_parts(len(images), c.num_clusters, config.seed)
    model, timing["step2_seconds"] = train_codes(config, workdir, images, class_parts)
    start = time.perf_counter()
    clusters = fit_mixture(config, model, clusters)
    save_final(model, workdir)
    timing["step3_seconds"] = time.perf_counter() - start
    return model, clusters, scores, timing


def train_unlabelled(config, workdir, images):
    """The COLA generator of `config` trained on unlabelled `images` in `workdir` (steps
    I-III, resumable), with samples/clusters.png: how another method's pipeline trains
    COLA as its generator (through methods/cola/hooks.py, e.g. LASIUM's `best`)."""
    images = np.asarray(images, np.float32)
    model, _, _, timing = train_cola(config, workdir, images)
    logging.info("COLA trained in %s; wrote %s", {k: round(v, 1) for k, v in timing.items()
                                                   if k.endswith("seconds")},
                 save_cluster_grid(workdir, model, int(config.cola.sample_images),
                                   int(config.gen_eval.seed)))
    return model


def train_scola(config, workdir, images, labels, num_classes=None):
    """sCOLA on labelled images: t_i = one-hot(label_i), step II, a Gaussian per class;
    returns the trained COLA model (sample_class(c, n, seed) draws class c). Resumable
    in `workdir`."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    if len(labels) != len(images):
        raise DataError(f"{len(images)} images but {len(labels)} labels")
    num_classes = int(num_classes or (labels.max() + 1 if len(labels) else 0))
    if num_classes < 1 or labels.min() < 0 or labels.max() >= num_classes:
        raise DataError(f"labels must be in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    missing = sorted(set(range(num_classes)) - set(labels.tolist()))
    if missing:
        raise DataError(f"classes {missing} have no image to train sCOLA on")
    model, _ = train_codes(config, workdir, np.asarray(images, np.float32),
                           np.eye(num_classes, dtype=np.float32)[labels])
    fit_mixture(config, model, labels)
    save_final(model, workdir)
    return model


# --------------------------------------------------------------------- evaluation
def training_split(config, labelled_by=None):
    """The split COLA trains on (`cola.train_split`), refused (ConfigError / DataError)
    when it is missing or empty. `labelled_by` (the caller's name, for the message): its
    labels are the class parts, so `cola.num_clusters` must be its number of classes."""
    c = config.cola
    splits = registry.load_splits(config.data)
    if c.train_split not in splits:
        raise ConfigError(f"cola.train_split {c.train_split!r} is not one of {sorted(splits)}")
    train = splits[c.train_split]
    if len(train.images) == 0:
        raise DataError(f"split {c.train_split} holds no images")
    if labelled_by and c.num_clusters != train.num_classes:
        raise ConfigError(f"{labelled_by}: cola.num_clusters ({c.num_clusters}) must equal the "
                          f"number of classes of split {c.train_split} ({train.num_classes})")
    return train


def cluster_to_class(labels, clusters, num_clusters):
    """{cluster: class}: the one-to-one map of clustering accuracy (labels used only to
    score). Clusters left without a class (K > classes) are absent."""
    table = np.zeros((int(np.max(labels)) + 1, num_clusters), np.int64)
    np.add.at(table, (np.asarray(labels), np.asarray(clusters)), 1)
    import scipy.optimize  # (local: only the scoring needs it here)
    rows, cols = scipy.optimize.linear_sum_assignment(-table)
    return {int(c): int(r) for r, c in zip(rows, cols)}


def evaluation_data(config, train_split, subset=None):
    """(evaluation images, their labels as indices of `train_split`'s classes, the
    dataset they come from). `subset` (default `cola.eval_subset`; e.g. MNIST's "test"):
    the same data config with `data.subset` replaced, split alike; empty: the training
    split itself."""
    subset = config.cola.eval_subset if subset is None else subset
    if subset:
        data = config.data.copy_and_resolve_references()
        data.subset = subset
        dataset = registry.load_dataset(data)
        split = registry.load_splits(data)[config.cola.train_split]
    else:
        dataset = registry.load_dataset(config.data)
        split = train_split
    index_of = {k: i for i, k in enumerate(train_split.class_keys)}
    mapped = np.array([index_of.get(k, -1) for k in split.class_keys], np.int64)
    labels = mapped[np.asarray(split.labels)] if len(split.labels) else np.zeros([0], np.int64)
    keep = labels >= 0
    if not np.any(keep):
        raise DataError(f"the evaluation images ({subset or 'training split'}) share no class "
                        f"with the training split")
    return split.images[keep], labels[keep], dataset


def generate_per_cluster(model, clusters, per_cluster, seed):
    """[len(clusters) * per_cluster] images, cluster by cluster."""
    return np.concatenate([np.asarray(model.sample_class(c, per_cluster, seed + c))
                           for c in clusters])


def save_cluster_grid(workdir, model, count, seed, name="clusters.png"):
    """samples/clusters.png: one row per cluster of `count` samples of its Gaussian."""
    rows = [list(np.asarray(model.sample_class(c, count, seed + c)))
            for c in range(model.num_clusters)]
    return workdir_lib.save_png(workdir, name, visualize.tile(rows))


def judge_scores(judged, judge_class_keys, class_keys, labels, clusters):
    """How a judge (the evaluation network, trained on real images of the dataset's
    classes) names generated images: "judged_accuracy", the share it names as the class
    it maps the image's cluster to (clusters mapped to classes by the judge's own
    one-to-one best map, as an independent judge does: clustering accuracy of
    (judged class, cluster)), and "fidelity", the share it names as `labels` (the class
    step I's matching gave the cluster). `judged`: indices of `judge_class_keys`;
    `labels`: indices of `class_keys`."""
    judged = np.asarray(judged, np.int64)
    index_of = {k: i for i, k in enumerate(class_keys)}
    as_class = np.array([index_of.get(k, -1) for k in judge_class_keys], np.int64)[judged]
    return {"judged_accuracy": clustering_metrics.clustering_accuracy(judged, clusters),
            "fidelity": float(np.mean(as_class == np.asarray(labels)))}


def evaluate_class_generator(config, workdir, model, class_of_cluster, train_split, name,
                             extra=None):
    """CAS (classifier trained on generated images labelled by `class_of_cluster`, tested
    on the real evaluation images), the Frechet distance on `gen_eval.features` between
    generated and real evaluation images and, when those features are the evaluation
    network's, its judgement of the images (`judge_scores`); writes gen_eval.json."""
    gen, c = config.gen_eval, config.cola
    images, labels, dataset = evaluation_data(config, train_split)
    clusters = sorted(class_of_cluster)
    generated = generate_per_cluster(model, clusters, int(c.eval_images_per_class), gen.seed)
    generated = np.clip(generated, 0.0, 1.0).astype(np.float32)
    generated_labels = np.repeat([class_of_cluster[k] for k in clusters],
                                 int(c.eval_images_per_class))
    num_classes = train_split.num_classes
    cas = classifier_scores.classification_accuracy_score(
        generated, generated_labels, images, labels, num_classes, int(gen.classifier_steps),
        int(gen.seed))
    extractor = features.make_feature_extractor(gen, dataset)
    metrics = {"cas": cas}
    metrics.update(frechet.feature_frechet_distance(extractor, generated, images))
    if hasattr(extractor, "predict"):  # an evaluation network: it judges the images too
        metrics.update(judge_scores(extractor.predict(generated), dataset.class_keys,
                                    train_split.class_keys, generated_labels,
                                    np.repeat(clusters, int(c.eval_images_per_class))))
    result = {"generator": name, "metrics": metrics, "features": extractor.name,
              "protocol": {"eval_subset": c.eval_subset or "training split",
                           "real_images": int(len(images)),
                           "generated_images": int(len(generated)),
                           "images_per_class": int(c.eval_images_per_class),
                           "classes_covered": len(set(class_of_cluster.values())),
                           "classifier_steps": int(gen.classifier_steps),
                           "seed": int(gen.seed), "dataset": dataset.name}}
    result.update(extra or {})
    os.makedirs(workdir, exist_ok=True)
    workdir_lib.commit_config(workdir)  # a result: the run's config.json first
    workdir_lib.write_json(os.path.join(workdir, "gen_eval.json"), result, indent=2,
                           sort_keys=True, default=float)
    return result


# The COLA pipelines' checks live with cola.* in config.py (pipelines.check_config runs
# them before any run; the pipelines call them too, for direct callers).
check_config = cola_config.check_cola_pipeline
