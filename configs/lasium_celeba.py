"""LASIUM on CelebA identities with the pretrained ProGAN (google/progan-128/1).

Needs a folder of CelebA identity sub-folders (data.root) and the ProGAN module as a
SavedModel directory or hub handle (generator.path); neither is shipped or
downloaded by the tests. 84x84 RGB, 5-way 1-shot, RO alpha 0.4 (the paper's setting
for the 512-d ProGAN latent), ProtoNets by default (variant `maml` for MAML).
"""

from fewgen_tf.methods.lasium.config import pretrained_rgb_lasium


def get_config(variant="protonets"):
    return pretrained_rgb_lasium(variant, "progan", "https://tfhub.dev/google/progan-128/1", 512)
