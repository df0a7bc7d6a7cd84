"""The config vocabulary every pipeline shares; experiment configs start from it.

`configs/*.py` call `base_config()` and change what their experiment needs. Keys are
created here (with defaults) rather than ad hoc in each file so that a command-line
override of a misspelt key fails with ml_collections' "did you mean" suggestion.
"""

import os

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.pipeline = "preview"
    config.seed = 0  # every random draw of a run (training episodes, init) derives from it

    config.data = ml_collections.ConfigDict()
    config.data.name = "synthetic"       # omniglot | mnist | folder | synthetic
    config.data.root = os.environ.get("FEWGEN_DATA_DIR", "")
    config.data.split = "random"         # lasium | lake (Omniglot), random, all
    config.data.image_size = 28
    config.data.split_sizes = (0.6, 0.2, 0.2)  # for split=random: fractions or class counts
    config.data.split_seed = 0
    config.data.format = "auto"          # omniglot: auto | npz | official (zips or folders)
    config.data.subset = "test"          # mnist: train | test
    config.data.channels = 3             # folder: 1 (grayscale) or 3 (RGB)
    config.data.center_crop = True       # folder: crop the centred square before resizing
    config.data.num_classes = 100        # synthetic
    config.data.images_per_class = 20    # synthetic
    config.data.synthetic_seed = 0       # synthetic: the glyphs themselves

    config.eval = ml_collections.ConfigDict()
    config.eval.num_tasks = 1000
    config.eval.ways = 5
    config.eval.shots = 1
    config.eval.queries = 15
    config.eval.seed = 42                # evaluation episodes depend only on this and the split

    config.distribute = "auto"           # auto | default | mirrored | multi_worker | tpu
    config.export = ml_collections.ConfigDict()
    config.export.enabled = True
    config.export.version = 1
    return config
