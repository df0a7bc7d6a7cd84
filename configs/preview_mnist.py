"""Preview MNIST episodes (10 digit classes; idx or csv files under data.root/mnist).
Variants: `test` (default, the official t10k set) and `train` (train-images-idx3 or the
5k csv)."""

from fewgen_tf.config import add_preview, base_config


def get_config(variant="test"):
    config = base_config()
    config.pipeline = "preview"
    config.data.name = "mnist"
    config.data.subset = variant
    config.data.split = "all"
    add_preview(config)
    return config
