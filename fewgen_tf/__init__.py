"""fewgen_tf: few-shot image generation and unsupervised meta-learning on TF2 / Keras 3."""

__version__ = "0.1.0"
