"""Adam on tensors rather than variables: the optimiser of adaptation that happens inside
a graph (a `tf.while_loop`) and must leave the model's own weights and optimiser state
untouched: Meta-FAVAE's inner loops and generation-time G fitting, AugIntAE's code
refinement and G fitting at generation.

`adam_init(params)` -> state, `adam_step(params, grads, state, lr, beta_1, beta_2)` ->
(params, state), on any nested structure of tensors. Keras' convention (its Adam, to
1e-5 in tests/meta_favae_test.py): the bias corrections fold into the step size,
lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), and epsilon is added to sqrt(v) uncorrected.
The moments start at zero for every call of `adam_init`: nothing carries from one
adaptation to the next."""

import tensorflow as tf


def adam_init(params):
    """(m, v, t) = (zeros like params, zeros like params, 0.0)."""
    zeros = tf.nest.map_structure(tf.zeros_like, params)
    return zeros, tf.nest.map_structure(tf.zeros_like, params), tf.constant(0.0)


def adam_step(params, grads, state, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """One Adam step on a nested structure of tensors; returns (new params, new state).
    A missing gradient (None) counts as zero."""
    m, v, t = state
    t = t + 1.0
    grads = tf.nest.map_structure(lambda g, p: tf.zeros_like(p) if g is None else g,
                                  grads, params)
    m = tf.nest.map_structure(lambda m_, g: beta_1 * m_ + (1.0 - beta_1) * g, m, grads)
    v = tf.nest.map_structure(lambda v_, g: beta_2 * v_ + (1.0 - beta_2) * tf.square(g), v, grads)
    step = lr * tf.sqrt(1.0 - tf.pow(beta_2, t)) / (1.0 - tf.pow(beta_1, t))
    params = tf.nest.map_structure(lambda p, m_, v_: p - step * m_ / (tf.sqrt(v_) + epsilon),
                                   params, m, v)
    return params, (m, v, t)
