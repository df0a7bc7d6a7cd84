"""Preview episodes of any image folder (class sub-folders, or one folder of images as
one class), e.g. CelebA identities or mini-ImageNet at 84x84 RGB. Set data.root to it.
Variant `single` previews a one-class folder (like ../shared/data/celeba32) with one-way
episodes."""

from fewgen_tf.config import add_preview, base_config


def get_config(variant="classes"):
    config = base_config()
    config.pipeline = "preview"
    config.data.name = "folder"
    config.data.image_size = 84
    config.data.channels = 3
    config.data.center_crop = True
    if variant == "single":
        config.data.split = "all"
        config.eval.ways = 1
        config.eval.shots = 5
        config.eval.queries = 5
    elif variant == "classes":
        config.data.split = "random"
    else:
        raise ValueError(f"unknown variant {variant!r}; valid: classes, single")
    add_preview(config)
    return config
