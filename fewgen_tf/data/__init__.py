"""Datasets, class splits and few-shot episodes.

Import the submodules you need (`from fewgen_tf.data import registry, episodes`);
they are not imported here so that reading a config never loads TensorFlow.
"""
