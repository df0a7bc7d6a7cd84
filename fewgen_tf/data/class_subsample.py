"""The labelled small samples of COLA's section 6: `spc` images of every class.

Draw `d` of a dataset with seed `s` takes, from each class c, the first `spc` images of
a permutation keyed by (s, d, class_keys[c]) (the counter-based `data.rng`), so:
  * a draw is the same on every machine and NumPy version;
  * draws with different indices are independent samples of the same size;
  * for one (seed, draw), the sample of a smaller spc is contained in that of a larger
    one (the sizes of a sweep are nested, so they differ only in the added images);
  * a class's images do not depend on which other classes the dataset holds.
"""

import numpy as np

from fewgen_tf.data import rng
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.errors import DataError


def draw_indices(dataset: ClassDataset, spc: int, draw_index: int, seed: int) -> np.ndarray:
    """Indices into `dataset.images` of the draw, class by class, ascending in each class."""
    if not isinstance(spc, (int, np.integer)) or isinstance(spc, bool) or spc < 1:
        raise DataError(f"spc (images per class) must be a positive integer, got {spc!r}")
    sizes = dataset.class_sizes
    too_small = [c for c in range(dataset.num_classes) if sizes[c] < spc]
    if too_small:
        c = too_small[0]
        more = f" (and {len(too_small) - 1} other classes)" if len(too_small) > 1 else ""
        raise DataError(f"{dataset.name}: spc={spc} images per class asked, but class "
                        f"{dataset.class_names[c]!r} holds only {sizes[c]}{more}")
    indices = []
    for c in range(dataset.num_classes):
        key = rng.derive_key("small-sample", int(seed), int(draw_index), dataset.class_keys[c])
        chosen = rng.permutation(key, int(sizes[c]))[:spc]
        indices.append(dataset.class_starts[c] + np.sort(chosen))
    return np.concatenate(indices) if indices else np.zeros((0,), np.int64)


def draw_small_sample(dataset: ClassDataset, spc: int, draw_index: int,
                      seed: int) -> ClassDataset:
    """`spc` images of every class of `dataset` (draw `draw_index` of `seed`), as a
    ClassDataset with the same classes, names and keys."""
    index = draw_indices(dataset, spc, draw_index, seed)
    arrays = [dataset.images[index[c * spc:(c + 1) * spc]] for c in range(dataset.num_classes)]
    return ClassDataset.from_class_arrays(f"{dataset.name}/spc{spc}-draw{draw_index}", arrays,
                                          dataset.class_names, dataset.class_keys)
