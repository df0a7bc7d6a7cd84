"""LASIUM on mini-ImageNet with the pretrained BigBiGAN (deepmind/bigbigan-resnet50/1,
signature `generate`, latent 120, output in [-1, 1]).

Needs the mini-ImageNet class folders (data.root; split 64/16/20 classes by
data.split_sizes) and the BigBiGAN module (generator.path); nothing is
downloaded by the tests. 84x84 RGB, 5-way 1-shot, RO alpha 0.4, ProtoNets by default.
"""

from fewgen_tf.methods.lasium.config import pretrained_rgb_lasium


def get_config(variant="protonets"):
    config = pretrained_rgb_lasium(variant, "bigbigan",
                                   "https://tfhub.dev/deepmind/bigbigan-resnet50/1", 120)
    config.data.split_sizes = (64, 16, 20)
    return config
