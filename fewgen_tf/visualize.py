"""Image grids for samples/*.png: episodes, generated tasks, generator samples."""

import numpy as np

BORDER_VALUE = 0.5  # mid-grey gaps, visible on both white-background and dark images


def tile(rows, gap: int = 2, gap_value: float = BORDER_VALUE) -> np.ndarray:
    """A grid from a list of rows, each a list of HWC images of one size (rows may be
    ragged: short rows are padded with gap colour)."""
    rows = [list(r) for r in rows if len(r)]
    if not rows:
        raise ValueError("tile needs at least one image")
    h, w, c = rows[0][0].shape
    cols = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + gap) + gap, cols * (w + gap) + gap, c), gap_value,
                   np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            top, left = gap + i * (h + gap), gap + j * (w + gap)
            grid[top:top + h, left:left + w] = image
    return grid


def stack_vertically(blocks, gap: int = 6, gap_value: float = 0.0) -> np.ndarray:
    """Blocks of possibly different widths one above the other, separated by bands."""
    width = max(b.shape[1] for b in blocks)
    channels = blocks[0].shape[2]
    padded = []
    for block in blocks:
        pad = np.full((block.shape[0], width - block.shape[1], channels), gap_value, np.float32)
        padded.append(np.concatenate([block, pad], 1))
        padded.append(np.full((gap, width, channels), gap_value, np.float32))
    return np.concatenate(padded[:-1], 0)


def spaced_row(*groups) -> np.ndarray:
    """One image strip: the groups of HWC images side by side, each group's images
    touching, a half-image-wide grey spacer between groups (e.g. seeds | generated, or
    seed A | path | seed B). Empty groups are left out."""
    groups = [list(g) for g in groups if len(g)]
    h, w, c = groups[0][0].shape
    spacer = np.full((h, w // 2, c), BORDER_VALUE, np.float32)
    parts = []
    for group in groups:
        parts += ([spacer] if parts else []) + group
    return np.concatenate(parts, 1)


def episode_grid(episode: dict, ways: int) -> np.ndarray:
    """One row per class: its support images, a wider gap, then its query images."""
    shots = len(episode["support_images"]) // ways
    queries = len(episode["query_images"]) // ways
    return tile([[spaced_row(episode["support_images"][j * shots:(j + 1) * shots],
                             episode["query_images"][j * queries:(j + 1) * queries])]
                 for j in range(ways)])
