"""A built-in dataset of procedurally drawn glyphs that needs no files.

Each class is a few random strokes (cubic Bezier curves); each instance re-draws the
class's strokes with jittered control points, a small random rotation / scale /
shift and a random pen width, the way Omniglot's drawers re-draw a character. Black
ink on white (background = 1.0, as Omniglot). Everything is derived from the seed by
`fewgen_tf.data.rng`, so the pixels are the same on every machine.
"""

import numpy as np

from fewgen_tf.data import rng
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError

_POINTS_PER_STROKE = 16


def _bezier(control, t):
    """Cubic Bezier points for control [..., 4, 2] at parameters t [T] -> [..., T, 2]."""
    t = t[:, None]
    c = control[..., None, :, :]
    return ((1 - t) ** 3 * c[..., 0, :] + 3 * (1 - t) ** 2 * t * c[..., 1, :]
            + 3 * (1 - t) * t ** 2 * c[..., 2, :] + t ** 3 * c[..., 3, :])


def _render(segments_start, segments_end, widths, size):
    """Anti-aliased strokes: segments [I, S, 2] in unit coords, widths [I] -> [I, size, size].

    Ink is 1 within the pen's half-width of the nearest segment, with a one-pixel ramp.
    x and y are handled as separate arrays: NumPy reductions over a length-2 axis are slow.
    """
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    px = np.tile(axis, size).reshape(1, -1, 1)                      # [1, P, 1]
    py = np.repeat(axis, size).reshape(1, -1, 1)
    ax, ay = (segments_start[:, None, :, k].astype(np.float32) for k in (0, 1))  # [I, 1, S]
    bx, by = (segments_end[:, None, :, k].astype(np.float32) for k in (0, 1))
    dx, dy = bx - ax, by - ay
    t = ((px - ax) * dx + (py - ay) * dy) / np.maximum(dx * dx + dy * dy, 1e-12)
    t = np.clip(t, 0.0, 1.0)
    ex, ey = px - ax - t * dx, py - ay - t * dy
    distance = np.sqrt((ex * ex + ey * ey).min(-1))                  # [I, P]
    ink = np.clip((widths[:, None] - distance) * size + 0.5, 0.0, 1.0)
    return (1.0 - ink).reshape(-1, size, size)


def _class_strokes(seed, c):
    key = rng.derive_key(seed, "synthetic-class", c)
    num_strokes = 2 + int(rng.uniform(rng.derive_key(key, "count"), (1,))[0] * 2)
    return 0.15 + 0.7 * rng.uniform(rng.derive_key(key, "control"), (num_strokes, 4, 2))


def _instances(seed, c, strokes, count, size):
    key = rng.derive_key(seed, "synthetic-instances", c)
    jitter = 0.035 * rng.normal(rng.derive_key(key, "jitter"), (count,) + strokes.shape)
    angle = np.deg2rad(12.0) * (2 * rng.uniform(rng.derive_key(key, "angle"), (count,)) - 1)
    scale = 0.9 + 0.2 * rng.uniform(rng.derive_key(key, "scale"), (count,))
    shift = 0.06 * (2 * rng.uniform(rng.derive_key(key, "shift"), (count, 2)) - 1)
    widths = 0.03 + 0.025 * rng.uniform(rng.derive_key(key, "width"), (count,))
    control = strokes[None] + jitter - 0.5                           # [I, strokes, 4, 2]
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # [I, 2, 2]
    control = np.einsum("iab,iskb->iska", rotation * scale[:, None, None], control)
    control = control + 0.5 + shift[:, None, None, :]
    curve = _bezier(control, np.linspace(0.0, 1.0, _POINTS_PER_STROKE))  # [I, strokes, T, 2]
    start = curve[:, :, :-1].reshape(count, -1, 2)
    end = curve[:, :, 1:].reshape(count, -1, 2)
    return _render(start, end, widths, size)


def make_synthetic(num_classes: int = 100, images_per_class: int = 20, image_size: int = 28,
                   seed: int = 0) -> ClassDataset:
    """`num_classes` glyph classes of `images_per_class` 1-channel images each."""
    if num_classes < 1 or images_per_class < 1:
        raise DataError(f"synthetic data needs num_classes >= 1 and images_per_class >= 1, "
                        f"got {num_classes} and {images_per_class}")
    if image_size < 8:
        raise DataError(f"synthetic glyphs need data.image_size >= 8, got {image_size}")
    arrays = [
        _instances(seed, c, _class_strokes(seed, c), images_per_class, image_size)
        .astype(np.float32)[..., None]
        for c in range(num_classes)
    ]
    return ClassDataset.from_class_arrays(
        "synthetic", arrays, [f"glyph{c:04d}" for c in range(num_classes)])
