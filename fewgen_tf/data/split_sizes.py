"""How many classes each part of the published Omniglot splits holds, known before any
data is read (no TensorFlow, no files): the home of these counts, for the loaders
(data/omniglot.py, data/splits.py) and for config values derived from them before a run
starts (e.g. COLA's K = the number of training classes, `cola.num_clusters = 0`)."""

from typing import Optional

NUM_BACKGROUND = 964   # Omniglot's official background set (characters 1..964)
NUM_EVALUATION = 659   # its evaluation set (965..1623)
NUM_CHARACTERS = NUM_BACKGROUND + NUM_EVALUATION
LASIUM_SIZES = (1200, 100, 323)  # train / val / test characters of the `lasium` split
LAKE_VAL_SIZE = 64               # `lake`: val = 64 background characters


def omniglot_class_count(split: str, part: str) -> Optional[int]:
    """Classes of `part` (train | val | test) in Omniglot's `split` (lasium | lake), or
    None for a split whose parts are not fixed in advance."""
    sizes = {"lasium": dict(zip(("train", "val", "test"), LASIUM_SIZES)),
             "lake": {"train": NUM_BACKGROUND - LAKE_VAL_SIZE, "val": LAKE_VAL_SIZE,
                      "test": NUM_EVALUATION}}
    return sizes.get(split, {}).get(part)
