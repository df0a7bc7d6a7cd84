"""Preview Omniglot episodes. Variants: `lasium` (default: 1200/100/323 characters),
`lake` (900/64 background, 659 evaluation), `official` (read the official zips or
folders instead of the npz pair). data.root or FEWGEN_DATA_DIR must hold omniglot/."""

from fewgen_tf.config import add_preview, base_config


def get_config(variant="lasium"):
    config = base_config()
    config.pipeline = "preview"
    config.data.name = "omniglot"
    config.data.image_size = 28
    if variant in ("lasium", "lake"):
        config.data.split = variant
    elif variant == "official":
        config.data.format = "official"
        config.data.split = "random"
    else:
        raise ValueError(f"unknown variant {variant!r}; valid: lasium, lake, official")
    add_preview(config)
    return config
