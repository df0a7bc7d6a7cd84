"""COLA step I's assignment maths (paper section 3.1, Algorithm 2), in numpy / scipy on
the host: the balanced GMM targets t_i, Eq. 2's matching of embeddings to targets by the
Hungarian algorithm, and the re-clusterings of the refinement (MMDC's k-means, also GLO's
mixture start; the exactly balanced assignment, SeLa's equipartition). The encoder that
these match and its training step are step1_clustering.py."""

import time

import numpy as np
import scipy.optimize
import scipy.special

from fewgen_tf import config as config_lib
from fewgen_tf.data import rng
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.cola import config as cola_config


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


# ----------------------------------------------------------------- Eq. 2 matching
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
    a, b = np.asarray(embeddings, np.float64), np.asarray(targets, np.float64)
    cost = np.sum(np.square(a[:, None] - b[None]), -1)
    return (timer or HungarianTimer()).solve(cost)


# ----------------------------------------------------------------- refinement
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
