"""Packaging for fewgen_tf (pip install -e ".[test]")."""

import re

from setuptools import find_packages, setup

with open("fewgen_tf/__init__.py") as f:
    VERSION = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

setup(
    name="fewgen_tf",
    version=VERSION,
    description="Few-shot image generation and unsupervised meta-learning "
                "(LASIUM, COLA, AugIntAE, Meta-FAVAE) on TensorFlow 2 / Keras 3",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["fewgen_tf", "fewgen_tf.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",      # with its bundled Keras 3
        "tensorflow-hub>=0.16",  # loading pretrained generators (BigBiGAN, ProGAN)
        "tensorboard",           # tf.summary writers: TF 2.21 no longer installs it itself
        "numpy",
        "scipy",                 # Hungarian assignment (COLA), linear algebra for metrics
        "absl-py",
        "ml-collections",
    ],
    extras_require={"test": [
        "pytest",
        # tests/notebook_test.py executes notebooks/quickstart.ipynb in a Jupyter kernel
        "nbclient", "nbformat", "ipykernel", "jupyter_client",
    ]},
)
