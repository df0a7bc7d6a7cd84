"""The one inner loop: gradient steps on a task's labelled images from given weights.

MAML (second- and first-order), Reptile and the from-scratch baseline all adapt with
`sgd_adapt`, in training, evaluation and inside exported SavedModels alike. Networks
run through `stateless_call` with `training=True`: BatchNorm uses the batch's own
statistics in every pass (as the MAML / LASIUM reference code does) and the returned
moving-statistics updates are discarded, so adaptation has no side effects and can be
vectorised over tasks.
"""

import tensorflow as tf


def forward(net, weights, non_trainable, images):
    """Logits or features of `net` with explicit trainable `weights`."""
    outputs, _ = net.stateless_call(weights, non_trainable, images, training=True)
    return outputs


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of one task (raw tf.nn: no Keras loss reduction)."""
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


UNROLL_STEPS = 10  # longer first-order loops run as tf.while_loop: small graphs, fast tracing


def _sgd_step(net, weights, non_trainable, images, labels, lr, first_order):
    with tf.GradientTape() as tape:
        tape.watch(weights)
        loss = cross_entropy(forward(net, weights, non_trainable, images), labels)
    grads = tape.gradient(loss, weights)
    if first_order:
        grads = [tf.stop_gradient(g) for g in grads]
    return [w - lr * g for w, g in zip(weights, grads)]


def sgd_adapt(net, weights, non_trainable, images, labels, steps: int, lr: float,
              first_order: bool = False):
    """`steps` plain gradient-descent steps of the task loss, returning new weights.

    Second order by default: when called under an outer GradientTape, the inner
    gradients are differentiated too (MAML). `first_order=True` stops gradients through
    them (FO-MAML, evaluation, Reptile, which needs no meta-gradient at all). Short or
    second-order loops are unrolled; long first-order ones (evaluation's 50 steps) run
    as a `tf.while_loop` so the graph stays small.
    """
    weights = list(weights)
    if not first_order or steps <= UNROLL_STEPS:
        for _ in range(steps):
            weights = _sgd_step(net, weights, non_trainable, images, labels, lr, first_order)
        return weights

    def body(i, *current):
        return (i + 1, *_sgd_step(net, list(current), non_trainable, images, labels, lr, True))

    _, *weights = tf.while_loop(lambda i, *_: i < steps, body, (tf.constant(0), *weights))
    return list(weights)
