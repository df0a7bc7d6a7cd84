"""COLA step I: clustering the latent space (paper section 3.1, Algorithm 2, B.1).

A two-headed encoder (nets/resnet.py's `projection_resnet`; E1 -> unit vectors in R^K,
E2 -> 4 rotation logits) learns balanced GMM targets t_i (assignment.py). In an
assignment epoch, per batch: Eq. 2, pi* = argmin_pi sum_j |E1(x_j) - t_pi(j)|^2 on the
un-augmented images' inference-mode embeddings (the Hungarian algorithm, on the host),
then Eq. 1's consistency |E1(xi(x_j)) - t_pi*(j)|^2 on augmented views xi(x_j), averaged
over the K coordinates as the MMDC reference's nn.MSELoss (`assignment_loss = "sum"`:
Eq. 1 itself, whose scale does not shrink with K). With RotNet (B.1) the odd epochs
train E2 on the batch's four rotations instead. From `refine_epoch` on (MMDC's
refinement, not the COLA paper) each assignment epoch starts by re-clustering E1 of all
images (`refine`). The matching and the target table are non-trainable variables, so a
checkpoint holds them. The matching permutes the GLOBAL batch on the host: under
several replicas every replica gathers it (`_assignment_loss`); RotNet's alternating
epochs train on one device only (their branch is a tf.cond, inside which the replicas'
sums cannot run).
"""

import keras
import numpy as np
import tensorflow as tf

from fewgen_tf import distribute
from fewgen_tf.data import augment
from fewgen_tf.methods.cola import config as cola_config
from fewgen_tf.methods.cola.assignment import (HungarianTimer, balanced_assignment,
                                               balanced_targets, kmeans, relabel_like)
from fewgen_tf.nets import resnet

ROTATIONS = 4


def squared_distances(a, b):
    """[n, m] squared Euclidean distances between rows: Eq. 2's cost, in the graph."""
    a, b = tf.convert_to_tensor(a, tf.float32), tf.convert_to_tensor(b, tf.float32)
    return tf.maximum(tf.reduce_sum(a * a, -1)[:, None] + tf.reduce_sum(b * b, -1)[None]
                      - 2.0 * tf.matmul(a, b, transpose_b=True), 0.0)


# -------------------------------------------------------------------------- model
class ClusteringModel(keras.Model):
    """The two-headed encoder of Algorithm 2 with the target matching it learns."""

    def __init__(self, backbone, targets, components, steps_per_epoch, ranges=None,
                 flip=False, views=1, weight_decay=5e-4, seed=0, rotnet=True,
                 refine_epoch=0, refine_method="kmeans", assignment_loss="mean", **kwargs):
        super().__init__(**kwargs)
        targets = np.asarray(targets, np.float32)
        self.num_images, self.num_clusters = targets.shape
        self.backbone = backbone
        self.cluster_head = keras.layers.Dense(self.num_clusters, name="cluster_head")
        self.rotation_head = keras.layers.Dense(ROTATIONS, name="rotation_head")
        features = int(backbone.output_shape[-1])
        self.cluster_head.build((None, features))
        self.rotation_head.build((None, features))
        self.targets = self.add_weight(shape=targets.shape, trainable=False, name="targets",
                                       initializer=keras.initializers.Constant(targets))
        self.components = self.add_weight(
            shape=(self.num_images,), dtype="int32", trainable=False, name="components",
            initializer=keras.initializers.Constant(np.asarray(components, np.int32)))
        self.assignment = self.add_weight(shape=(self.num_images,), dtype="int32",
                                          trainable=False, name="assignment",
                                          initializer=keras.initializers.Constant(
                                              np.arange(self.num_images)))
        self.steps_per_epoch = int(steps_per_epoch)
        self.ranges, self.flip, self.views = ranges, bool(flip), int(views)
        self.weight_decay = float(weight_decay)
        self.rotnet, self.refine_epoch = bool(rotnet), int(refine_epoch)
        cola_config.check_cola_value("cola.refine_method", refine_method)
        cola_config.check_cola_value("cola.assignment_loss", assignment_loss)
        self.refine_method, self.assignment_loss = refine_method, assignment_loss
        self.capacities = np.bincount(np.asarray(components, np.int64),
                                      minlength=self.num_clusters)  # the balanced sizes
        self.seed = int(seed)
        self.noise = keras.random.SeedGenerator(seed)
        self.timer = HungarianTimer()
        self.trackers = {n: keras.metrics.Mean(name=n) for n in (
            "assignment_loss", "reassigned", "rotation_loss", "rotation_accuracy")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ---------------------------------------------------------------- inference
    def embed(self, images, training=False):
        """E1: unit vectors in R^K."""
        features = self.backbone(images, training=training)
        return tf.math.l2_normalize(self.cluster_head(features), -1, epsilon=1e-12)

    def call(self, images, training=False):
        return self.embed(images, training)

    def clusters(self) -> np.ndarray:
        """[N] cluster (target component) of every training image: step I's output."""
        return self.components.numpy()[self.assignment.numpy()].astype(np.int64)

    def embed_all(self, images, batch_size=256) -> np.ndarray:
        """[N, K] E1 of `images` (inference mode), batch by batch, in one traced
        function (eager calls took ~10x longer: every epoch scores all images)."""
        if getattr(self, "_embed_function", None) is None:
            self._embed_function = tf.function(lambda x: self.embed(x, training=False))
        out = [self._embed_function(tf.constant(images[i:i + batch_size])).numpy()
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out) if out else np.zeros([0, self.num_clusters], np.float32)

    def is_assignment_epoch(self, epoch: int) -> bool:
        return not self.rotnet or epoch % 2 == 0

    def refine(self, images, epoch: int) -> np.ndarray:
        """The refinement: every image's target becomes the one-hot mean of its new
        cluster, found on E1 of all `images` (the training images, in index order) by
        `refine_method`: "kmeans" (MMDC: k-means, relabelled to agree with the current
        clusters; its sizes follow the data and can merge classes) or "balanced" (each
        image to a one-hot mean e_c, maximising sum_i E1(x_i)_c, i.e. minimising Eq. 2's
        distance to e_c, with exactly the balanced targets' cluster sizes:
        `balanced_assignment`; E1's axis c is already cluster c). Returns the clusters."""
        embedded = self.embed_all(images)
        if self.refine_method == "balanced":
            labels = balanced_assignment(embedded, self.capacities)
        else:
            labels = kmeans(embedded, self.num_clusters, (self.seed, epoch))
            labels = relabel_like(labels, self.clusters(), self.num_clusters)
        self.targets.assign(np.eye(self.num_clusters, dtype=np.float32)[labels])
        self.components.assign(labels.astype(np.int32))
        self.assignment.assign(np.arange(self.num_images, dtype=np.int32))
        return labels

    def predict_clusters(self, images, batch_size=256) -> np.ndarray:
        """Nearest one-hot mean of E1(x), for images outside the training set."""
        return np.argmax(self.embed_all(images, batch_size), -1).astype(np.int64)

    # ----------------------------------------------------------------- training
    def _augment(self, images, seed):
        fold = tf.random.experimental.stateless_fold_in
        if self.ranges is not None:
            images = augment.augment(images, self.ranges, fold(seed, 1))
        if self.flip:
            mirror = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1],
                                                 fold(seed, 2)) < 0.5
            images = tf.where(mirror, tf.reverse(images, [2]), images)
        return images

    def _assignment_loss(self, indices, images, seed, refining, replicas=None):
        """Eq. 1 on this replica's images, matched by Eq. 2 over the GLOBAL batch.

        One device (`replicas` None): the batch is the global batch. Under R replicas
        (`replicas` = (R, the replica context)): every replica gathers the global
        batch's indices and images, draws the global batch's augmentations and solves
        the global batch's matching on the gathered eval-mode embeddings (each replica
        the same numbers: the host solver is deterministic), then keeps its own rows;
        the new assignment of the whole global batch is written alike by all. Returns
        (loss, the global batch's indices and new assignments, changed share)."""
        own = tf.shape(images)[0]
        all_indices, all_images, first = indices, images, 0
        if replicas is not None:
            count, context = replicas
            all_indices = distribute.gather_replicas(context, indices)
            all_images = distribute.gather_replicas(context, images)
            first = tf.cast(context.replica_id_in_sync_group, tf.int32) * own
        batch = tf.shape(all_images)[0]
        views = [self._augment(all_images, tf.random.experimental.stateless_fold_in(seed, v))
                 for v in range(self.views)]
        if replicas is not None:
            views = [view[first:first + own] for view in views]
        current = tf.gather(self.assignment, all_indices)       # target rows now held
        targets = tf.gather(self.targets, current)
        embedded = self.embed(tf.concat(views, 0), training=True)
        if replicas is not None:  # after the training pass, as on one device: the
            # matching reads the moving statistics it updated; gathered outside any
            # tf.cond, inside which a collective cannot run
            matched_all = distribute.gather_replicas(
                context, tf.stop_gradient(self.embed(images, training=False)))

        def hungarian():  # the reference: matched on eval-mode embeddings, no gradient
            matched = (tf.stop_gradient(self.embed(images, training=False))
                       if replicas is None else matched_all)
            cost = squared_distances(matched, targets)
            perm = tf.numpy_function(self.timer.solve, [cost], tf.int64, stateful=True)
            return tf.ensure_shape(tf.cast(perm, tf.int32), [None])

        perm = tf.cond(refining, lambda: tf.range(batch), hungarian)  # refined: kept
        new = tf.gather(current, perm)                          # image j gets t_pi(j)
        assigned = tf.gather(targets, perm)
        if replicas is not None:
            assigned = assigned[first:first + own]
        assigned = tf.tile(assigned, [self.views, 1])
        squared = tf.square(embedded - assigned)
        if self.assignment_loss == "sum":  # Eq. 1: |E1(x) - t|^2 in [0, 4] whatever K
            loss = tf.reduce_mean(tf.reduce_sum(squared, -1))
        else:  # the reference's nn.MSELoss: also averaged over K (Eq. 1 / K)
            loss = tf.reduce_mean(squared)
        if replicas is not None:  # the optimizer sums the replicas' gradients
            loss = loss / replicas[0]
        components = self.components  # the share whose CLUSTER changed
        changed = tf.reduce_mean(tf.cast(tf.not_equal(tf.gather(components, new),
                                                      tf.gather(components, current)),
                                         tf.float32))
        return loss, all_indices, new, changed

    def _rotation_loss(self, images, replicas=1):
        rotated = tf.concat([tf.image.rot90(images, k) for k in range(ROTATIONS)], 0)
        labels = tf.repeat(tf.range(ROTATIONS), tf.shape(images)[0])
        logits = self.rotation_head(self.backbone(rotated, training=True))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        if replicas > 1:  # the optimizer sums the replicas' gradients
            loss = loss / replicas
        accuracy = tf.reduce_mean(tf.cast(
            tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))
        return loss, accuracy

    def _descend(self, tape, loss, head):
        """SGD on the backbone and `head` (the other head has no gradient this step and,
        as in PyTorch, is left alone), weight decay added to the gradient."""
        variables = self.backbone.trainable_variables + head.trainable_variables
        grads = tape.gradient(loss, variables)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        grads = [g + (self.weight_decay / replicas) * v if len(v.shape) > 1 else g
                 for g, v in zip(grads, variables)]  # kernels only, as the reference
        self.optimizer.apply_gradients(zip(grads, variables))

    def train_step(self, data):
        indices, images = data
        indices = tf.cast(indices, tf.int32)
        images = tf.convert_to_tensor(images, tf.float32)
        seed = keras.random.randint([2], 0, 2 ** 30, seed=self.noise, dtype="int32")
        epoch = self.optimizer.iterations // self.steps_per_epoch
        assign_epoch = tf.logical_or(tf.constant(not self.rotnet), tf.equal(epoch % 2, 0))
        refining = tf.logical_and(tf.constant(self.refine_epoch > 0),
                                  epoch >= self.refine_epoch)

        context = tf.distribute.get_replica_context()
        count = context.num_replicas_in_sync if context is not None else 1
        replicas = (count, context) if count > 1 else None

        def assignment_branch():
            with tf.GradientTape() as tape:
                loss, all_indices, new, changed = self._assignment_loss(
                    indices, images, seed, refining, replicas)
            self._descend(tape, loss, self.cluster_head)
            self.assignment.assign(tf.tensor_scatter_nd_update(self.assignment,
                                                               all_indices[:, None], new))
            return loss * count, changed, tf.constant(0.0), tf.constant(0.0)

        def rotation_branch():
            with tf.GradientTape() as tape:
                loss, accuracy = self._rotation_loss(images, count)
            self._descend(tape, loss, self.rotation_head)
            return tf.constant(0.0), tf.constant(0.0), loss * count, accuracy

        if replicas is not None and not self.rotnet:
            # (no tf.cond: the optimizer's and BatchNorm's cross-replica sums cannot run
            # inside one; without RotNet every epoch is an assignment epoch)
            a_loss, changed, r_loss, r_acc = assignment_branch()
        else:
            a_loss, changed, r_loss, r_acc = tf.cond(assign_epoch, assignment_branch,
                                                     rotation_branch)
        on, off = tf.cast(assign_epoch, tf.float32), 1.0 - tf.cast(assign_epoch, tf.float32)
        self.trackers["assignment_loss"].update_state(a_loss, sample_weight=on)
        self.trackers["reassigned"].update_state(changed, sample_weight=on)
        self.trackers["rotation_loss"].update_state(r_loss, sample_weight=off)
        self.trackers["rotation_accuracy"].update_state(r_acc, sample_weight=off)
        return {name: t.result() for name, t in self.trackers.items()}


def build_clustering_model(image_shape, num_images, num_clusters, steps_per_epoch, *,
                           widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2),
                           target_variance=0.1, ranges=None, flip=False, views=1,
                           weight_decay=5e-4, seed=0, rotnet=True, refine_epoch=0,
                           refine_method="kmeans", assignment_loss="mean"):
    targets, components = balanced_targets(int(num_images), num_clusters, target_variance,
                                           seed)
    keras.utils.set_random_seed(seed)
    cola_config.check_encoder(widths, blocks)
    backbone = resnet.projection_resnet(image_shape, widths, blocks)
    return ClusteringModel(backbone, targets, components, steps_per_epoch, ranges, flip,
                           views, weight_decay, seed, rotnet, refine_epoch, refine_method,
                           assignment_loss, name="cola_clustering")
