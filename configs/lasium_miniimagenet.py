"""LASIUM on mini-ImageNet with the pretrained BigBiGAN (deepmind/bigbigan-resnet50/1,
signature `generate`, latent 120, output in [-1, 1]).

Needs the mini-ImageNet class folders (data.root; split 64/16/20 classes by
data.split_sizes) and the BigBiGAN module (lasium.generator_path); nothing is
downloaded by the tests. 84x84 RGB, 5-way 1-shot, RO alpha 0.4, ProtoNets by default.
"""

from fewgen_tf.config import add_lasium, add_meta_learning, base_config


def get_config(variant="protonets"):
    if variant not in ("protonets", "maml"):
        raise ValueError(f"unknown variant {variant!r}; valid: protonets, maml")
    config = add_lasium(add_meta_learning(base_config(), variant), "bigbigan", "ro")
    config.pipeline = "lasium"
    config.data.name = "folder"
    config.data.image_size = 84
    config.data.channels = 3
    config.data.split = "random"
    config.data.split_sizes = (64, 16, 20)
    config.lasium.generator_path = "https://tfhub.dev/deepmind/bigbigan-resnet50/1"
    config.lasium.latent_dim = 120
    config.lasium.alpha = 0.4
    config.meta.inner_lr = 0.05
    config.meta.filters = 32
    config.meta.iterations = 10000
    config.train.queries = 5
    return config
