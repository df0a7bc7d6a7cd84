"""The one inner loop: gradient steps on a task's labelled images from given weights.

MAML (second- and first-order), Reptile and the from-scratch baseline all adapt with
`sgd_adapt`, in training, evaluation and inside exported SavedModels alike. Networks
run through `stateless_call` with `training=True`: BatchNorm uses the batch's own
statistics in every pass (as the MAML / LASIUM reference code does) and the returned
moving-statistics updates are discarded, so adaptation has no side effects and can be
vectorised over tasks.
"""

import keras
import tensorflow as tf

from fewgen_tf.nets import layers as meta_layers


def forward(net, weights, non_trainable, images, statistics_rows=None):
    """Logits or features of `net` with explicit trainable `weights`.

    Every BatchNorm normalises by the moments of the whole batch `images`, or, with
    `statistics_rows` = R, by those of its first R rows only (a task's support set
    followed by its queries: each query's output then depends on the support set and
    itself alone, whatever else the batch holds)."""
    if statistics_rows is None:
        outputs, _ = net.stateless_call(weights, non_trainable, images, training=True)
        return outputs
    if not isinstance(net, keras.Model):  # heads.HeadSplitNet
        outputs, _ = net.stateless_call(weights, non_trainable, images,
                                        statistics_rows=statistics_rows)
        return outputs
    return _forward_by_reference_rows(net, weights, non_trainable, images, statistics_rows)


def _forward_by_reference_rows(net, weights, non_trainable, images, rows):
    """`net` (a chain of layers: the backbones of nets/backbones.py and their bodies)
    layer by layer with explicit weights; each BatchStatNorm takes its moments from the
    first `rows` rows of its input and applies them to every row."""
    given = {id(v): w for v, w in zip(net.trainable_variables, weights)}
    given.update({id(v): w for v, w in zip(net.non_trainable_variables, non_trainable)})
    x = images
    for layer in net.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, meta_layers.BatchStatNorm):
            mean, variance = meta_layers.batch_moments(x[:rows])
            x = layer.normalise(x, mean, variance,
                                given[id(layer.gamma)] if layer.gamma is not None else None,
                                given[id(layer.beta)] if layer.beta is not None else None)
            continue
        if layer.weights and any(id(v) not in given for v in layer.weights):
            raise ValueError(f"layer {layer.name} of {net.name} has weights that are not the "
                             "network's own")
        x, _ = layer.stateless_call([given[id(v)] for v in layer.trainable_variables],
                                    [given[id(v)] for v in layer.non_trainable_variables], x)
    return x


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
