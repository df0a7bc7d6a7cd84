"""Frechet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule
converge to a local Nash equilibrium"): the distance between two Gaussians fitted to
features of two image sets. It is "FID" ONLY with the features of the standard
Inception-v3 pool3 layer (`metrics.inception.InceptionFeatures` given that model). With
any other features, e.g. the evaluation network (`metrics.evaluation_network`, trained
here because the Inception weights cannot be downloaded), it is a Frechet distance on
those features, must be reported with the extractor's `name`, and is not comparable with
published FIDs. Numpy in, numpy out; bad input raises `DataError`."""

import warnings

import numpy as np
import scipy.linalg
from absl import logging

from fewgen_tf.errors import DataError


# The matrix square root is retried with `eps * I` added to both covariances when the
# first result is not finite or does not square back to the product (relative
# Frobenius residual above SQRTM_RESIDUAL), i.e. when the product is (near) singular.
SQRTM_RESIDUAL = 1e-5
MAX_SQRTM_RESIDUAL = 1e-3  # after the retry: a worse root would give a wrong trace
# The square root of a product of two PSD matrices has a real spectrum; an imaginary
# part is rounding noise unless it exceeds this fraction of the largest diagonal entry
# (or of 1, whichever is larger: the reference code's absolute 1e-3 for small features).
MAX_RELATIVE_IMAGINARY = 1e-3


def feature_statistics(features, what: str = "features"):
    """(mean [d], covariance [d, d]) in float64; covariance with ddof=1, as np.cov and
    the reference FID code (TTUR) compute it."""
    x = np.asarray(features)
    if x.ndim != 2:
        raise DataError(f"{what}: expected a [n, d] feature matrix, got shape {x.shape}")
    if x.shape[0] < 2:
        raise DataError(f"{what}: a covariance needs at least 2 samples, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise DataError(f"{what}: features have no dimensions")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{what}: features contain NaN or infinite values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _matrix_sqrt(product):
    """(sqrtm(product), relative Frobenius residual ||root^2 - product|| / ||product||).
    SciPy's singular-matrix warning is silenced: the residual is checked here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(product)
    if not np.all(np.isfinite(root)):
        return root, np.inf
    norm = np.linalg.norm(product)
    residual = np.linalg.norm(root @ root - product) / norm if norm > 0 else 0.0
    return root, residual


def frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(sigma_a + sigma_b - 2 (sigma_a sigma_b)^(1/2)).

    The Frechet (2-Wasserstein) distance between N(mu_a, sigma_a) and N(mu_b, sigma_b)
    (Heusel et al. 2017). The square root follows the reference code: scipy's sqrtm,
    retried with `eps * I` added to both covariances when the product is near-singular,
    then the real part, refusing (DataError) a result whose imaginary part is not noise.
    The value is returned as computed, not clipped at 0: for identical inputs it is 0 up
    to rounding (about 1e-7 either side with singular covariances).
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    sigma_a = np.atleast_2d(np.asarray(sigma_a, np.float64))
    sigma_b = np.atleast_2d(np.asarray(sigma_b, np.float64))
    d = mu_a.shape[0] if mu_a.ndim == 1 else -1
    if (mu_a.ndim != 1 or mu_b.shape != mu_a.shape or sigma_a.shape != (d, d)
            or sigma_b.shape != (d, d)):
        raise DataError(f"Frechet distance: means and covariances do not match: mu_a "
                        f"{mu_a.shape}, sigma_a {sigma_a.shape}, mu_b {mu_b.shape}, "
                        f"sigma_b {sigma_b.shape}")
    root, residual = _matrix_sqrt(sigma_a @ sigma_b)
    if not residual <= SQRTM_RESIDUAL:
        offset = eps * np.eye(d)
        logging.info("Frechet distance: sqrtm residual %.3g; retrying with %g * I added to "
                     "both covariances", residual, eps)
        root, residual = _matrix_sqrt((sigma_a + offset) @ (sigma_b + offset))
        if not np.all(np.isfinite(root)):
            raise DataError("Frechet distance: the covariance product has no finite square "
                            "root even with an eps * I offset; features are degenerate")
    if np.iscomplexobj(root):
        imaginary = float(np.max(np.abs(np.diagonal(root).imag)))
        scale = max(1.0, float(np.max(np.abs(np.diagonal(root).real))))
        if imaginary > MAX_RELATIVE_IMAGINARY * scale:
            raise DataError(f"Frechet distance: the covariance product's square root has an "
                            f"imaginary part of {imaginary:.3g} (scale {scale:.3g}); the "
                            "features are degenerate (too few samples for their dimension?)")
        root = root.real
    if not residual <= MAX_SQRTM_RESIDUAL:
        raise DataError(f"Frechet distance: the covariance product's square root is "
                        f"inaccurate (relative residual {residual:.3g}) even with an eps * I "
                        "offset; the features are degenerate")
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(root))


def frechet_distance(features_a, features_b) -> float:
    """Frechet distance between Gaussians fitted to two [n, d] feature sets (n >= 2)."""
    mu_a, sigma_a = feature_statistics(features_a, "features_a")
    mu_b, sigma_b = feature_statistics(features_b, "features_b")
    if mu_a.shape != mu_b.shape:
        raise DataError(f"Frechet distance: feature dimensions differ ({mu_a.shape[0]} vs "
                        f"{mu_b.shape[0]})")
    return frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b)


def feature_frechet_distance(extractor, images_a, images_b) -> dict:
    """{"frechet_distance": float, "features": extractor.name}: the number together with
    the name of the features it was measured on, the form results are recorded in."""
    return {"frechet_distance": frechet_distance(extractor.features(images_a),
                                                 extractor.features(images_b)),
            "features": extractor.name}
