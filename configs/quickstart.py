"""Quickstart: supervised ProtoNets on the built-in synthetic glyphs, end to end
(meta-train, select on validation classes, evaluate 5-way 1-shot, export) in a few
minutes on 2 CPU cores, with no data files. The LASIUM issue turns this into LASIUM."""

from fewgen_tf.config import add_meta_learning, base_config


def get_config():
    config = add_meta_learning(base_config(), "protonets")
    config.pipeline = "supervised"
    config.data.name = "synthetic"
    config.data.num_classes = 100
    config.data.split = "random"
    config.meta.iterations = 300
    config.train.steps_per_epoch = 100
    config.train.val_tasks = 50
    config.eval.num_tasks = 500
    config.eval.queries = 15
    config.preview = {"num_episodes": 2}  # for --config.pipeline=preview
    return config
