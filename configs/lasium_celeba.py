"""LASIUM on CelebA identities with the pretrained ProGAN (google/progan-128/1).

Needs a folder of CelebA identity sub-folders (data.root) and the ProGAN module as a
SavedModel directory or hub handle (lasium.generator_path); neither is shipped or
downloaded by the tests. 84x84 RGB, 5-way 1-shot, RO alpha 0.4 (the paper's setting
for the 512-d ProGAN latent), ProtoNets by default (variant `maml` for MAML).
"""

from fewgen_tf.config import add_lasium, add_meta_learning, base_config


def get_config(variant="protonets"):
    if variant not in ("protonets", "maml"):
        raise ValueError(f"unknown variant {variant!r}; valid: protonets, maml")
    config = add_lasium(add_meta_learning(base_config(), variant), "progan", "ro")
    config.pipeline = "lasium"
    config.data.name = "folder"
    config.data.image_size = 84
    config.data.channels = 3
    config.data.split = "random"
    config.lasium.generator_path = "https://tfhub.dev/google/progan-128/1"
    config.lasium.latent_dim = 512
    config.lasium.alpha = 0.4
    config.meta.inner_lr = 0.05
    config.meta.filters = 32
    config.meta.iterations = 10000
    config.train.queries = 5
    config.eval.queries = 15
    return config
