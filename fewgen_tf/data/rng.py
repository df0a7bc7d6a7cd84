"""Counter-based random numbers that are identical on every machine and version.

Evaluation episodes must be the same for a given seed on every run and machine, and
episode `i` must not depend on how many episodes were drawn before it. NumPy's
`Generator` methods do not promise a stable stream across releases, so the few draws
that define datasets and episodes use this module instead: a key is derived from any
tuple of ints/strings with BLAKE2b, and a stream of 64-bit words from a key with
SplitMix64 (Steele et al. 2014) applied to a counter. Both are pure integer maths.
"""

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def derive_key(*parts) -> int:
    """A 64-bit key from a tuple of ints and strings (stable: no Python `hash`)."""
    text = "\x1f".join(f"{type(p).__name__}:{p}" for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def random_words(key: int, count: int) -> np.ndarray:
    """`count` pseudo-random uint64 words: SplitMix64 outputs for counters 1..count."""
    with np.errstate(over="ignore"):
        z = np.uint64(key) + _GOLDEN * np.arange(1, count + 1, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def uniform(key: int, shape) -> np.ndarray:
    """float64 uniforms in [0, 1) with 53 random bits each."""
    shape = tuple(np.atleast_1d(shape)) if not isinstance(shape, tuple) else shape
    count = int(np.prod(shape)) if shape else 1
    words = random_words(key, count) >> np.uint64(11)
    return (words.astype(np.float64) * (1.0 / (1 << 53))).reshape(shape)


def normal(key: int, shape) -> np.ndarray:
    """Standard normals by the Box-Muller transform of two uniform streams."""
    u1 = uniform(derive_key(key, "normal-radius"), shape)
    u2 = uniform(derive_key(key, "normal-angle"), shape)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def permutation(key: int, n: int) -> np.ndarray:
    """A uniformly random permutation of range(n) (argsort of random words; ties are
    astronomically unlikely and broken by index, so the result is still a permutation)."""
    return np.argsort(random_words(key, n), kind="stable")


def sample_without_replacement(key: int, n: int, k: int) -> np.ndarray:
    """`k` distinct indices from range(n), in random order."""
    if k > n:
        raise ValueError(f"cannot draw {k} distinct items from {n}")
    return permutation(key, n)[:k]
