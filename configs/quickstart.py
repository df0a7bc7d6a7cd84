"""Quickstart: preview episodes of the built-in synthetic glyph dataset (no files needed)."""

from fewgen_tf.config import base_config


def get_config():
    config = base_config()
    config.pipeline = "preview"
    config.data.name = "synthetic"
    config.data.num_classes = 60
    config.data.split = "random"
    config.eval.num_tasks = 200
    config.eval.queries = 5
    config.preview = {"num_episodes": 2}
    return config
