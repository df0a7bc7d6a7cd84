"""COLA / GLO / sCOLA on CIFAR-10, for users who have it (it cannot be downloaded here):
`data.name = cifar10` (fewgen_tf/data/cifar.py: the official python batches, their
archive, or class folders under FEWGEN_DATA_DIR / --config.data.root).

Trains on the 50k training images, scores against the 10k test images
(`cola.eval_subset = test`). Step I is the paper's ResNet-18 (64-128-256-512 x 2) with
crops (translation), flips and colour jitter (`augment.kind = natural`, `cola.flip`).
Variants: cola | glo | scola (sCOLA: pipeline scola, the residual generator with
conditional BatchNorm, the paper's CGAN row of Table 5).
"""

from fewgen_tf.config import add_augmentation, base_config
from fewgen_tf.methods.cola.config import add_cola

VARIANTS = ("cola", "glo", "scola")


def get_config(variant="cola"):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    config = base_config()
    add_augmentation(config, "natural")
    add_cola(config, variant, num_clusters=10)
    config.data.name = "cifar10"
    config.data.subset = "train"
    config.data.split = "all"
    config.data.image_size = 32
    config.data.channels = 3
    config.cola.eval_subset = "test"
    config.cola.flip = True
    if variant == "scola":
        config.cola.architecture = "residual"
        config.cola.conditional_bn = True
    return config
