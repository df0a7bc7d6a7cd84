"""Meta-FAVAE on an image folder of faces, 64x64 RGB (the paper's VGG-Faces setting,
Table 1; VGG-Faces is not available here). data.root: a folder with one sub-folder of
images per identity; identities are split at random (60% train / 20% val / 20% test).
Variants as in meta_favae_omniglot: favae | avae | figr. At width 1 the four networks
hold 7,991,815 parameters (the paper: 8.3M).

Smoke test only, on the 32 CelebA faces of ../shared/data/celeba32 (one folder = one
class, so no novel identity and no generation protocol):
  python -m fewgen_tf.main --config=configs/meta_favae_faces.py:favae \
    --config.data.root=../shared/data/celeba32 --config.data.split=all \
    --config.meta_favae.evaluate=False --config.generator.iterations=4 \
    --config.meta_favae.steps_per_epoch=2 --workdir=/tmp/faces_smoke
"""

from fewgen_tf.methods.meta_favae.config import META_FAVAE_VARIANTS as VARIANTS  # noqa: F401 (for callers)
from fewgen_tf.config import base_config
from fewgen_tf.methods.meta_favae.config import add_meta_favae


def get_config(variant="favae"):
    config = add_meta_favae(base_config(), variant)  # (it checks the variant)
    config.pipeline = "meta_favae"
    config.data.name = "folder"
    config.data.image_size = 64
    config.data.channels = 3
    config.data.center_crop = True
    config.data.split = "random"
    config.data.split_sizes = (0.6, 0.2, 0.2)
    config.gen_eval.split = "test"
    return config
