"""COLA step I: clustering the latent space (paper section 3.1, Algorithm 2, B.1).

It lives beside COLA's generator (methods/cola/model.py) because it is that method's first
step and a keras.Model with its own `train_step`; its scores are metrics/clustering.py.

Targets (drawn once): image i gets target t_i = v / |v|, v ~ N(e_c, sigma I) in R^K with
one-hot mean e_c. The components are exactly balanced (c = i mod K, permuted), the
"balanced clusters" of the method; `balanced_targets`.
Encoder E: a small ResNet (ResNet-18 at 32x32: widths 64-128-256-512, two basic blocks
per stage; narrower for 28x28 characters, `cola.encoder_widths` / `encoder_blocks`) with
two heads on the pooled features: E1 -> R^K (projected onto the unit sphere, where the
targets live) and E2 -> 4 rotation logits.
Training alternates epochs (B.1; with `rotnet=False` every epoch is an assignment epoch):
  even epochs  per batch b: embed the un-augmented images (inference-mode BatchNorm, as
               the MMDC reference code does), solve (Eq. 2)
                 pi* = argmin_pi sum_j |E1(x_j) - t_pi(j)|^2
               with the Hungarian algorithm (scipy's linear_sum_assignment on the b x b
               cost matrix, on the host through tf.numpy_function: one call per batch),
               store the new matching (image idx_j now holds target t_pi*(j)), and
               minimise mean_j mean_xi |E1(xi(x_j)) - t_pi*(j)|^2 over `views`
               augmented views xi(x_j) (consistency; Eq. 1).
               The squared error is averaged over the K coordinates too (the reference's
               nn.MSELoss: Eq. 1's sum scaled by 1/K, a fixed factor on this term's
               learning rate relative to RotNet's) unless `assignment_loss = "sum"`
               (Eq. 1 itself). The factor matters at large K: at K = 1200 the mean's
               gradients are 1/1200 of Eq. 1's and the encoder learned nothing in 6
               epochs (Omniglot, measured); lr 0.005 with weight decay 5e-3 and "sum"
               is exactly lr 0.05, weight decay 5e-4 and "mean" at K = 10.
  odd epochs   RotNet: the batch in all four rotations (4b images), cross-entropy of E2.
Refinement (`refine_epoch` > 0; not in the COLA paper): from that epoch on, every
assignment epoch starts by re-clustering E1 of all images and giving each image the
one-hot target of its cluster; the per-batch Hungarian then stops. `refine_method`
"kmeans" is MMDC's refinement stage (`kmeans`, its clusters relabelled to agree best with
the previous ones by a Hungarian on the contingency table; sizes follow the data);
"balanced" keeps the balanced sizes exactly (`balanced_assignment`, Eq. 2 over all images
against the one-hot means: SeLa's equipartition, Asano et al. 2020). Without refinement
the targets only ever permute within a batch, so the clusters stay exactly balanced.
SGD(lr, momentum 0.9) with weight decay added to the gradient of the kernels (wd * w,
PyTorch's coupled form; the reference exempts BatchNorm's and biases' 1-D parameters);
the registry's schedule halves lr every quarter. BatchNorm's moving statistics use
momentum 0.9 (PyTorch's default 0.1; Keras' 0.99 left them lagging far behind the
weights, so the inference-mode embeddings of a young encoder all collapsed onto one
point, measured on MNIST 2026-11-29).
The matching (`assignment`, an index into the target table) and the table itself
(`targets`, `components`: refinement rewrites them) are non-trainable variables, so a
checkpoint holds them and a resumed run continues with them. The output is
`clusters()`: the component of each image's final target.
Runs on one device: the assignment is a host-side permutation of the global batch.
"""

import time

import keras
import numpy as np
import scipy.optimize
import scipy.special
import tensorflow as tf

from fewgen_tf import config as config_lib
from fewgen_tf.data import augment, rng
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.cola import config as cola_config

ROTATIONS = 4


# ------------------------------------------------------------------------ targets
def balanced_targets(num_images: int, num_clusters: int, variance: float, seed: int):
    """(targets [N, K] float32 unit rows, components [N] int64): component c appears
    floor(N/K) or ceil(N/K) times, in an order permuted by `seed`; target = v / |v|,
    v ~ N(e_c, variance I). ConfigError if K < 2 or K > N."""
    config_lib.integer(2)("cola.num_clusters", num_clusters)  # (a resolved K: not 0)
    if num_clusters > num_images:
        raise ConfigError(f"cola.num_clusters K={num_clusters} is larger than the number of "
                          f"training images ({num_images}): every cluster needs an image")
    cola_config.check_cola_value("cola.target_variance", variance)
    key = rng.derive_key("cola-targets", int(seed))
    order = rng.permutation(rng.derive_key(key, "order"), num_images)
    components = (np.arange(num_images) % num_clusters)[order].astype(np.int64)
    v = np.eye(num_clusters)[components] + np.sqrt(variance) * rng.normal(
        rng.derive_key(key, "noise"), (num_images, num_clusters))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32), components


# --------------------------------------------------------------------- assignment
def squared_distances(a, b):
    """[n, m] squared Euclidean distances between rows (TF or numpy inputs)."""
    a, b = tf.convert_to_tensor(a, tf.float32), tf.convert_to_tensor(b, tf.float32)
    return tf.maximum(tf.reduce_sum(a * a, -1)[:, None] + tf.reduce_sum(b * b, -1)[None]
                      - 2.0 * tf.matmul(a, b, transpose_b=True), 0.0)


class HungarianTimer:
    """Seconds spent in the solver (host side), for the step-I time report."""

    def __init__(self):
        self.seconds, self.calls = 0.0, 0

    def solve(self, cost):
        start = time.perf_counter()
        _, columns = scipy.optimize.linear_sum_assignment(cost)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return columns.astype(np.int64)


def hungarian_assignment(embeddings, targets, timer=None) -> np.ndarray:
    """Eq. 2 for one batch: perm [b] with perm[j] the target row given to embedding j,
    minimising sum_j |embeddings_j - targets_perm(j)|^2."""
    cost = squared_distances(embeddings, targets).numpy()
    return (timer or HungarianTimer()).solve(cost)


def kmeans(points, num_clusters, seed, restarts=3, iterations=100):
    """[N] labels in 0..K-1 of Lloyd's k-means on `points` [N, D] (float64), k-means++
    seeding from `seed`, the best of `restarts` by inertia; an emptied cluster is
    re-seeded with the point farthest from its centre. Deterministic given `seed`."""
    points = np.asarray(points, np.float64)
    n = len(points)
    best, best_inertia = None, np.inf
    for r in range(int(restarts)):
        generator = np.random.default_rng(rng.derive_key("kmeans", seed, r))
        centres = [points[generator.integers(n)]]
        nearest = np.sum((points - centres[0]) ** 2, 1)
        for _ in range(1, num_clusters):
            total = nearest.sum()
            pick = (generator.choice(n, p=nearest / total) if total > 0
                    else generator.integers(n))
            centres.append(points[pick])
            nearest = np.minimum(nearest, np.sum((points - points[pick]) ** 2, 1))
        centres = np.array(centres)
        labels = None
        for _ in range(int(iterations)):
            distances = (np.sum(points ** 2, 1)[:, None] + np.sum(centres ** 2, 1)[None]
                         - 2.0 * points @ centres.T)
            new = np.argmin(distances, 1)
            for k in np.setdiff1d(np.arange(num_clusters), new):  # emptied clusters
                far = int(np.argmax(distances[np.arange(n), new]))
                new[far] = k
                distances[far] = -np.inf
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            centres = np.stack([points[labels == k].mean(0) for k in range(num_clusters)])
        inertia = float(np.sum((points - centres[labels]) ** 2))
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best.astype(np.int64)


MAX_SWAP_CLUSTERS = 64  # balanced_assignment's pairwise swaps only up to this K
CANDIDATE_CLUSTERS = 16  # above MAX_SWAP_CLUSTERS: each image's best candidates only


def balanced_assignment(scores, capacities, temperature=0.02, iterations=300):
    """[N] labels giving cluster c exactly capacities[c] images (sum = N) and a near-maximal
    total score sum_i scores[i, label_i]: the transport problem of the balanced
    refinement. Its dual has one price per cluster; Sinkhorn-Knopp at a low
    `temperature` (in the log domain, as SeLa's equipartition, Asano et al. 2020) finds
    them, then a greedy fill takes the (image, cluster) pairs in the order of
    score - price, each image once and each cluster up to its capacity, which makes the
    balance exact; then (K <= MAX_SWAP_CLUSTERS) the best swaps of two images between two
    clusters while one raises the total (a local optimum for exchanges of two). An exact
    LP took ~150 s at N = 5000, K = 10 here; this ~1 s, within 0.003% of the LP's total
    on random scores (0.15% without the swaps). For K > MAX_SWAP_CLUSTERS (e.g. one
    cluster per Omniglot character, K = 1200) each image's CANDIDATE_CLUSTERS best
    clusters carry the prices and the fill (N x 16 entries instead of N x K); an image
    whose candidates are all full takes the best cluster with room left."""
    scores = np.asarray(scores, np.float64)
    capacities = np.asarray(capacities, np.int64)
    n, k = scores.shape
    if capacities.shape != (k,) or capacities.min() < 0 or capacities.sum() != n:
        raise ValueError(f"capacities {capacities.tolist()} must be {k} counts >= 0 "
                         f"summing to the {n} images")
    if k <= MAX_SWAP_CLUSTERS:
        candidates = np.broadcast_to(np.arange(k), (n, k))
    else:
        candidates = np.argpartition(-scores, CANDIDATE_CLUSTERS - 1,
                                     axis=1)[:, :CANDIDATE_CLUSTERS]
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    logits = candidate_scores / float(temperature)
    log_columns = np.log(np.maximum(capacities, 1e-12) / n)
    flat_candidates = candidates.ravel()
    column_shift = np.zeros(k)
    for _ in range(int(iterations)):  # rows sum to 1/n, columns to capacities / n
        shifted = logits + column_shift[candidates]
        rows = scipy.special.logsumexp(shifted, axis=1, keepdims=True)
        mass = np.bincount(flat_candidates, weights=np.exp(shifted - rows).ravel(),
                           minlength=k)
        held = mass > 0
        step = np.where(held, log_columns - np.log(np.where(held, mass, 1.0)), 0.0)
        column_shift += step
        if np.max(np.abs(step)) < 1e-3:  # column sums within 0.1%: prices settled
            break
    prices = -float(temperature) * column_shift
    labels = np.full(n, -1, np.int64)
    room = capacities.copy()
    _greedy_fill(candidate_scores - prices[candidates], candidates, labels, room)
    left = np.flatnonzero(labels < 0)
    if len(left):  # their candidates filled up: any cluster with room
        adjusted = scores[left] - prices
        adjusted[:, room == 0] = -np.inf
        sub = np.full(len(left), -1, np.int64)
        _greedy_fill(adjusted, np.broadcast_to(np.arange(k), adjusted.shape), sub, room)
        labels[left] = sub
    # the swaps cost O(K^2) each: at K = 10 they close the greedy's last 0.15% to the LP's
    # optimum (random scores); at K in the hundreds they would dominate the refinement
    return _best_swaps(scores, labels) if k <= MAX_SWAP_CLUSTERS else labels


def _greedy_fill(adjusted, candidates, labels, room):
    """Give each unlabelled row the candidate cluster of its pair, pairs taken in the
    order of `adjusted` (high first), while the cluster has `room` (updated in place)."""
    m = adjusted.shape[1]
    left = int(np.sum(labels < 0))
    for flat in np.argsort(-adjusted, axis=None, kind="stable"):
        image, j = divmod(int(flat), m)
        cluster = candidates[image, j]
        if labels[image] < 0 and room[cluster] > 0:
            labels[image] = cluster
            room[cluster] -= 1
            left -= 1
            if not left:
                return


def _best_swaps(scores, labels):
    """`labels` improved by swapping two images between two clusters (sizes kept), the
    best-gaining swap first, while one gains. gain[a, b] = the most any image of a gains
    by moving to b; a swap of a and b gains gain[a, b] + gain[b, a]. After a swap only
    rows a and b of the table change: O(K^2 + N) a swap."""
    n, k = scores.shape
    rows = np.arange(n)
    moving = scores - scores[rows, labels][:, None]  # [n, K] gain of moving i to each b
    gain = np.full((k, k), -np.inf)
    best = np.zeros((k, k), np.int64)

    def refresh(cluster):
        members = np.flatnonzero(labels == cluster)
        if len(members):
            top = members[np.argmax(moving[members], axis=0)]  # per target cluster b
            gain[cluster], best[cluster] = moving[top, np.arange(k)], top

    for cluster in range(k):
        refresh(cluster)
    for _ in range(n * k):
        total = gain + gain.T
        np.fill_diagonal(total, -np.inf)
        a, b = np.unravel_index(int(np.argmax(total)), total.shape)
        if not total[a, b] > 1e-12:
            break
        i, j = best[a, b], best[b, a]
        labels[i], labels[j] = b, a
        moving[[i, j]] = scores[[i, j]] - scores[[i, j], [b, a]][:, None]
        refresh(a)
        refresh(b)
    return labels


def relabel_like(labels, previous, num_clusters) -> np.ndarray:
    """`labels` renamed by the one-to-one map of cluster ids that agrees best with
    `previous` (Hungarian on the contingency table), so cluster k stays cluster k."""
    table = np.zeros((num_clusters, num_clusters), np.int64)
    np.add.at(table, (np.asarray(labels), np.asarray(previous)), 1)
    rows, cols = scipy.optimize.linear_sum_assignment(-table)
    mapping = np.empty(num_clusters, np.int64)
    mapping[rows] = cols
    return mapping[np.asarray(labels)]


# ------------------------------------------------------------------------ encoder
BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1 (the reference); Keras' default is 0.99


def _batch_norm(name):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def _basic_block(x, filters, stride, name):
    shortcut = x
    y = keras.layers.Conv2D(filters, 3, stride, "same", use_bias=False, name=f"{name}_conv1")(x)
    y = _batch_norm(f"{name}_bn1")(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(filters, 3, 1, "same", use_bias=False, name=f"{name}_conv2")(y)
    y = _batch_norm(f"{name}_bn2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, stride, use_bias=False,
                                       name=f"{name}_proj")(x)
        shortcut = _batch_norm(f"{name}_proj_bn")(shortcut)
    return keras.layers.ReLU()(y + shortcut)


def resnet_backbone(image_shape, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
    """CIFAR-style ResNet (3x3 stem, no max-pool; stage s > 0 starts with stride 2):
    widths (64, 128, 256, 512) x blocks (2, 2, 2, 2) is ResNet-18. -> pooled features."""
    cola_config.check_encoder(widths, blocks)
    widths, blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
    inputs = keras.Input(tuple(image_shape))
    x = keras.layers.Conv2D(widths[0], 3, 1, "same", use_bias=False, name="stem")(inputs)
    x = keras.layers.ReLU()(_batch_norm("stem_bn")(x))
    for s, (filters, count) in enumerate(zip(widths, blocks)):
        for b in range(count):
            x = _basic_block(x, filters, 2 if s and not b else 1, f"stage{s}_block{b}")
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="resnet")


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

    def _assignment_loss(self, indices, images, seed, refining):
        batch = tf.shape(images)[0]
        views = [self._augment(images, tf.random.experimental.stateless_fold_in(seed, v))
                 for v in range(self.views)]
        current = tf.gather(self.assignment, indices)           # target rows now held
        targets = tf.gather(self.targets, current)
        embedded = self.embed(tf.concat(views, 0), training=True)

        def hungarian():  # the reference: matched on eval-mode embeddings, no gradient
            matched = tf.stop_gradient(self.embed(images, training=False))
            cost = squared_distances(matched, targets)
            perm = tf.numpy_function(self.timer.solve, [cost], tf.int64, stateful=True)
            return tf.ensure_shape(tf.cast(perm, tf.int32), [None])

        perm = tf.cond(refining, lambda: tf.range(batch), hungarian)  # refined: kept
        new = tf.gather(current, perm)                          # image j gets t_pi(j)
        assigned = tf.tile(tf.gather(targets, perm), [self.views, 1])
        squared = tf.square(embedded - assigned)
        if self.assignment_loss == "sum":  # Eq. 1: |E1(x) - t|^2 in [0, 4] whatever K
            loss = tf.reduce_mean(tf.reduce_sum(squared, -1))
        else:  # the reference's nn.MSELoss: also averaged over K (Eq. 1 / K)
            loss = tf.reduce_mean(squared)
        components = self.components  # the share whose CLUSTER changed
        changed = tf.reduce_mean(tf.cast(tf.not_equal(tf.gather(components, new),
                                                      tf.gather(components, current)),
                                         tf.float32))
        return loss, new, changed

    def _rotation_loss(self, images):
        rotated = tf.concat([tf.image.rot90(images, k) for k in range(ROTATIONS)], 0)
        labels = tf.repeat(tf.range(ROTATIONS), tf.shape(images)[0])
        logits = self.rotation_head(self.backbone(rotated, training=True))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
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

        def assignment_branch():
            with tf.GradientTape() as tape:
                loss, new, changed = self._assignment_loss(indices, images, seed, refining)
            self._descend(tape, loss, self.cluster_head)
            self.assignment.assign(tf.tensor_scatter_nd_update(self.assignment,
                                                               indices[:, None], new))
            return loss, changed, tf.constant(0.0), tf.constant(0.0)

        def rotation_branch():
            with tf.GradientTape() as tape:
                loss, accuracy = self._rotation_loss(images)
            self._descend(tape, loss, self.rotation_head)
            return tf.constant(0.0), tf.constant(0.0), loss, accuracy

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
    backbone = resnet_backbone(image_shape, widths, blocks)
    return ClusteringModel(backbone, targets, components, steps_per_epoch, ranges, flip,
                           views, weight_decay, seed, rotnet, refine_epoch, refine_method,
                           assignment_loss, name="cola_clustering")
