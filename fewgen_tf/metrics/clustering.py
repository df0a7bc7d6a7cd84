"""Clustering scores (numpy / scipy; no scikit-learn): COLA step I's report.

clustering_accuracy  the share of images whose cluster, mapped to a class by the best
                     one-to-one matching of clusters to classes (Hungarian algorithm on
                     the contingency table), is their true class.
nmi                  normalised mutual information I(Y; C) / sqrt(H(Y) H(C)) (the
                     geometric normalisation, as the deep-clustering papers report it),
                     natural logs; 1 when both partitions are equal up to renaming.
"""

import numpy as np
import scipy.optimize

from fewgen_tf.errors import DataError


def _check(labels, clusters):
    labels, clusters = np.asarray(labels).ravel(), np.asarray(clusters).ravel()
    if len(labels) != len(clusters) or len(labels) == 0:
        raise DataError(f"clustering scores need as many labels as cluster ids (> 0), got "
                        f"{len(labels)} and {len(clusters)}")
    return labels, clusters


def contingency(labels, clusters) -> np.ndarray:
    """[classes, clusters] counts, rows / columns in sorted order of the ids."""
    labels, clusters = _check(labels, clusters)
    _, y = np.unique(labels, return_inverse=True)
    _, c = np.unique(clusters, return_inverse=True)
    table = np.zeros((y.max() + 1, c.max() + 1), np.int64)
    np.add.at(table, (y, c), 1)
    return table


def clustering_accuracy(labels, clusters) -> float:
    """Accuracy under the best one-to-one cluster -> class map (unmatched clusters,
    when there are more clusters than classes, count as errors)."""
    table = contingency(labels, clusters)
    rows, cols = scipy.optimize.linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / table.sum())


def nmi(labels, clusters) -> float:
    """Normalised mutual information, sqrt normalisation; 1.0 if both entropies are 0."""
    table = contingency(labels, clusters).astype(np.float64)
    n = table.sum()
    p = table / n
    py, pc = p.sum(1), p.sum(0)
    nonzero = p > 0
    mutual = float(np.sum(p[nonzero] * np.log(p[nonzero] / np.outer(py, pc)[nonzero])))
    hy = -float(np.sum(py[py > 0] * np.log(py[py > 0])))
    hc = -float(np.sum(pc[pc > 0] * np.log(pc[pc > 0])))
    if hy == 0.0 and hc == 0.0:
        return 1.0
    if hy == 0.0 or hc == 0.0:
        return 0.0
    return float(max(0.0, mutual) / np.sqrt(hy * hc))
