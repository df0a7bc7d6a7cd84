"""Layers and initialisers for the networks that meta-learners adapt.

`BatchStatNorm`: batch normalisation whose batch moments are differentiable to every
order. Keras' `BatchNormalization` computes the batch variance with `tf.nn.moments`,
which puts a `stop_gradient` on the mean inside the variance. That is harmless for a
first derivative (d var / d mean = 0 at the batch mean) but it drops terms from second
derivatives, and second-order MAML differentiates the inner gradient: through the
standard layer its meta-gradient was off by up to 69% of the largest entry on conv4
(and a conv bias, which BatchNorm makes irrelevant, got a non-zero meta-gradient).
Here mean and variance are plain `mean(x)` and `mean((x - mean(x))^2)`, so the graph
is the exact function and every order of derivative is right
(tests/maml_test.py checks the meta-gradient against finite differences).

`INITIALISERS`: the backbone's initialisation is an explicit choice
(`meta.init`). MAML is very sensitive to it: with Keras' defaults (glorot-uniform
kernels, zero biases) a PyTorch (torch.func) MAML reaches 69-70% after 500 Omniglot
iterations (5-way 1-shot, meta-batch 4), with PyTorch's defaults 87.5%; this library's
MAML: benchmarks/RESULTS.md, section "MAML's meta-gradient through BatchNorm, and the
backbone's initialisation".
"""

import math

import keras
from keras import ops

from fewgen_tf import config as config_lib


def batch_moments(x):
    """Mean and variance of `x` over every axis but the last, as plain `mean(x)` and
    `mean((x - mean(x))^2)` (no stop_gradient: exact to every order of derivative)."""
    axes = tuple(range(len(x.shape) - 1))
    mean = ops.mean(x, axis=axes)
    return mean, ops.mean(ops.square(x - mean), axis=axes)


@keras.saving.register_keras_serializable(package="fewgen_tf")
class BatchStatNorm(keras.layers.Layer):
    """Normalise over every axis but the last with the batch's own moments (training)
    or moving averages of them (inference), then scale by gamma and shift by beta.

    The meta-learners always call it with `training=True` (each task is normalised by
    its own statistics, as in the MAML and LASIUM reference code); the moving averages
    are kept so that the layer is a complete BatchNorm for any other use.
    """

    def __init__(self, epsilon=1e-3, momentum=0.99, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon, self.momentum = float(epsilon), float(momentum)
        self.center, self.scale = bool(center), bool(scale)

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = (self.add_weight(shape=shape, initializer="ones", name="gamma")
                      if self.scale else None)
        self.beta = (self.add_weight(shape=shape, initializer="zeros", name="beta")
                     if self.center else None)
        self.moving_mean = self.add_weight(shape=shape, initializer="zeros",
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape, initializer="ones",
                                               trainable=False, name="moving_variance")

    def call(self, inputs, training=None):
        dtype = inputs.dtype
        x = ops.cast(inputs, "float64" if dtype == "float64" else "float32")
        if training:
            mean, variance = batch_moments(x)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + ops.cast(mean, self.moving_mean.dtype)
                                    * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m
                                        + ops.cast(variance, self.moving_variance.dtype)
                                        * (1.0 - m))
        else:
            mean = ops.cast(self.moving_mean, x.dtype)
            variance = ops.cast(self.moving_variance, x.dtype)
        return ops.cast(self.normalise(x, mean, variance, self.gamma, self.beta),
                        self.compute_dtype)

    def normalise(self, x, mean, variance, gamma, beta):
        """(x - mean) / sqrt(variance + epsilon) * gamma + beta (gamma / beta None when
        the layer has no scale / centre)."""
        outputs = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if gamma is not None:
            outputs = outputs * ops.cast(gamma, x.dtype)
        if beta is not None:
            outputs = outputs + ops.cast(beta, x.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return dict(super().get_config(), epsilon=self.epsilon, momentum=self.momentum,
                    center=self.center, scale=self.scale)


INITIALISERS = config_lib.META_INITS  # ("torch", "keras"): the names meta.init takes


def initialisers(init: str, fan_in: int):
    """(kernel_initializer, bias_initializer) for a layer with `fan_in` inputs per unit.

    torch: PyTorch's defaults for Conv2d / Linear, kaiming-uniform with a = sqrt(5),
      i.e. kernels uniform(+-1/sqrt(fan_in)) = VarianceScaling(1/3, fan_in, uniform),
      biases uniform(+-1/sqrt(fan_in)).
    keras: Keras' defaults, glorot-uniform kernels and zero biases (the LASIUM
      authors' code).
    """
    if init == "torch":
        bound = 1.0 / math.sqrt(fan_in)  # a bias alone does not know its layer's fan-in
        return (keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                keras.initializers.RandomUniform(-bound, bound))
    if init == "keras":
        return keras.initializers.GlorotUniform(), keras.initializers.Zeros()
    raise ValueError(f"unknown initialisation {init!r}; valid: {', '.join(INITIALISERS)}")
