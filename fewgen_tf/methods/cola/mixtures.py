"""COLA step III: a multivariate Gaussian per cluster of the learnt codes (paper section
3), covariances + reg I; GLO, without clusters, a K-component Gaussian mixture fitted by
EM. A full covariance per cluster is K (K+d)^2 floats, cubic in K; the low-rank form is
probabilistic PCA (Tipping & Bishop 1999): W_c^T W_c + s_c^2 I with the r leading
directions, K (r + 1)(K+d) floats, the same Gaussian for a cluster of at most r + 1
codes. Numpy only: model.py stores and samples what these return."""

import numpy as np

from fewgen_tf.errors import DataError
from fewgen_tf.methods.cola.assignment import kmeans


def fit_cluster_gaussians(codes, clusters, num_clusters: int, reg: float = 1e-4):
    """(means [K, D], covariances [K, D, D]): per cluster the mean and the covariance
    (ddof 1, as np.cov; 0 for a one-code cluster) plus reg * I. DataError for an empty
    cluster."""
    codes = np.asarray(codes, np.float64)
    clusters = np.asarray(clusters).ravel()
    means, covariances = [], []
    for c in range(num_clusters):
        points = codes[clusters == c]
        if len(points) == 0:
            raise DataError(f"cluster {c} holds no code: cannot fit its Gaussian")
        cov = (np.atleast_2d(np.cov(points, rowvar=False)) if len(points) > 1
               else np.zeros((codes.shape[1],) * 2))
        means.append(points.mean(0))
        covariances.append(cov + reg * np.eye(codes.shape[1]))
    return np.stack(means), np.stack(covariances)


def _principal_factors(eigenvalues, eigenvectors, rank, dim):
    """PPCA of one covariance from its eigenpairs (descending; the missing ones are 0):
    W [rank, dim] with rows sqrt(lambda_i - sigma2) u_i, and sigma2 the mean of the
    dim - rank eigenvalues left out, so that W^T W + sigma2 I keeps the leading
    eigenpairs and the total variance (Tipping & Bishop 1999, Eq. 7-8)."""
    lam = np.clip(np.asarray(eigenvalues, np.float64), 0.0, None)
    kept = min(rank, len(lam))
    sigma2 = float(lam[kept:].sum()) / (dim - rank) if dim > rank else 0.0
    factors = np.zeros((rank, dim))
    factors[:kept] = (np.sqrt(np.clip(lam[:kept] - sigma2, 0.0, None))[:, None]
                      * np.asarray(eigenvectors[:kept], np.float64))
    return factors, sigma2


def fit_cluster_gaussians_low_rank(codes, clusters, num_clusters: int, rank: int,
                                   reg: float = 1e-4):
    """`fit_cluster_gaussians` in the low-rank store (module doc): (means [K, D],
    factors [K, r, D], noise_scales [K]) with Sigma_c = W_c^T W_c + s_c^2 I, s_c^2 =
    sigma2_c + reg. From the SVD of each cluster's centred codes ([n_c, D]): no D x D
    matrix is ever formed. Equal to the full fit for a cluster of <= r + 1 codes."""
    codes = np.asarray(codes, np.float64)
    clusters = np.asarray(clusters).ravel()
    dim = codes.shape[1]
    means, factors, scales = [], [], []
    for c in range(num_clusters):
        points = codes[clusters == c]
        if len(points) == 0:
            raise DataError(f"cluster {c} holds no code: cannot fit its Gaussian")
        mean = points.mean(0)
        if len(points) > 1:  # eigenpairs of np.cov (ddof 1) from the SVD
            _, singular, directions = np.linalg.svd(points - mean, full_matrices=False)
            eigenvalues = singular ** 2 / (len(points) - 1)
        else:
            eigenvalues, directions = np.zeros([0]), np.zeros([0, dim])
        w, sigma2 = _principal_factors(eigenvalues, directions, rank, dim)
        means.append(mean)
        factors.append(w)
        scales.append(np.sqrt(sigma2 + reg))
    return np.stack(means), np.stack(factors), np.asarray(scales)


def low_rank_from_covariances(covariances, rank: int):
    """(factors [K, r, D], noise_scales [K]) of full covariances (GLO's EM mixture in
    the low-rank store): PPCA of each, exact when its rank above the smallest
    eigenvalue's level is <= r."""
    factors, scales = [], []
    for cov in np.asarray(covariances, np.float64):
        eigenvalues, vectors = np.linalg.eigh(cov)
        w, sigma2 = _principal_factors(eigenvalues[::-1], vectors[:, ::-1].T, rank, len(cov))
        factors.append(w)
        scales.append(np.sqrt(sigma2))
    return np.stack(factors), np.asarray(scales)


def log_gaussians(x, means, covariances):
    """[n, K] log N(x_n | mu_k, Sigma_k)."""
    out = []
    for mu, cov in zip(means, covariances):
        chol = np.linalg.cholesky(cov)
        solved = np.linalg.solve(chol, (x - mu).T)
        out.append(-0.5 * np.sum(solved ** 2, 0) - np.sum(np.log(np.diag(chol)))
                   - 0.5 * x.shape[1] * np.log(2 * np.pi))
    return np.stack(out, 1)


def fit_gaussian_mixture(codes, num_components: int, seed: int = 0, iterations: int = 50,
                         reg: float = 1e-4):
    """GLO's step III: a full-covariance Gaussian mixture fitted by EM, initialised by
    k-means (step I's `kmeans`: 10 Lloyd steps from k-means++ seeds drawn by `seed`).
    Returns (weights [K], means [K, D], covariances [K, D, D])."""
    x = np.asarray(codes, np.float64)
    n, d = x.shape
    if num_components > n:
        raise DataError(f"a {num_components}-component mixture needs at least as many codes, "
                        f"got {n}")
    nearest = kmeans(x, num_components, ("glo-em", int(seed)), restarts=1, iterations=10)
    resp = np.eye(num_components)[nearest]
    for step in range(int(iterations) + 1):
        if step:  # E-step (the first M-step uses the k-means assignment)
            log_p = log_gaussians(x, means, covariances) + np.log(weights)
            log_p -= log_p.max(1, keepdims=True)
            resp = np.exp(log_p)
            resp /= resp.sum(1, keepdims=True)
        covariances = np.zeros((num_components, d, d))
        counts = resp.sum(0) + 1e-10
        weights = counts / n
        means = (resp.T @ x) / counts[:, None]
        for k in range(num_components):
            centred = x - means[k]
            covariances[k] = ((resp[:, k, None] * centred).T @ centred / counts[k]
                              + reg * np.eye(d))
    return weights, means, covariances
