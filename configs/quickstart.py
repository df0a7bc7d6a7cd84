"""Quickstart: LASIUM on the built-in synthetic glyphs, end to end, with no data files:
train a small VAE on the unlabeled train glyphs, meta-train ProtoNets on tasks built in
its latent space (real anchors + N strategy), evaluate 5-way 1-shot on real unseen
glyph classes, and export the classifier, generator and task sampler.
`--config.pipeline=supervised` runs the labelled-episode baseline with the same
settings, `--config.pipeline=preview` shows the data."""

from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.methods.lasium.config import add_lasium


def get_config():
    config = add_lasium(add_meta_learning(base_config(), "protonets"), "vae", "n")
    config.pipeline = "lasium"
    config.data.name = "synthetic"
    config.data.num_classes = 100
    config.data.split = "random"
    config.generator.epochs = 15
    config.generator.batch_size = 64
    config.lasium.variance = 0.5
    config.meta.iterations = 300
    config.train.steps_per_epoch = 100
    config.train.val_tasks = 50
    config.eval.num_tasks = 500
    config.eval.queries = 15
    config.preview = {"num_episodes": 2}
    return config
