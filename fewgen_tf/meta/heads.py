"""Test-time heads of any width for the adapting learners (`meta.head_init`).

MAML, FO-MAML, Reptile and the scratch baseline adapt a network whose last layer is a
Dense(ways) head, so as trained they answer tasks of exactly `ways` classes. At test
time (evaluation and the exported `classify`) an N-way task may instead get a head made
for it, after which the usual inner loop (`adaptation.sgd_adapt`) adapts ALL weights,
the new head included:

  learned     the meta-learned head; N must equal the trained ways.
  prototypes  Proto-MAML (Triantafillou et al. 2020, "Meta-Dataset", section 4):
              W_k = 2 c_k, b_k = -|c_k|^2, c_k the mean penultimate feature of class k's
              support images under the meta-learned body, so the initial logits
              2 c_k . f - |c_k|^2 = |f|^2 - |f - c_k|^2 rank classes as ProtoNets does.
  zero        W = 0, b = 0: every class starts equal (the first step moves only the head).
  auto        learned when N equals the trained ways, zero otherwise (the default: a
              served 5-way model answers 5-way tasks exactly as it was evaluated; for
              other N, zero beat prototypes by 17 points at 20-way on VALIDATION tasks:
              after MAML's large inner learning rate the prototype logits are large and
              the test-time steps from them overshoot; benchmarks/RESULTS.md, section
              "What a test-time head of another width costs MAML").
Training never uses these: it adapts the meta-learned head as before. The network is
split into its body and an explicit linear head (`HeadSplitNet`), because a Keras
layer's variables cannot take another shape.
"""

import keras
import tensorflow as tf

from fewgen_tf import config as config_lib
from fewgen_tf.meta import adaptation

HEAD_INITS = config_lib.META_HEAD_INITS  # ("auto", "learned", "prototypes", "zero")


def check_head_init(head_init):
    """`head_init` if it is one of HEAD_INITS (the rule of meta.head_init), else ConfigError."""
    return config_lib.check_value("meta.head_init", head_init)


class HeadSplitNet:
    """`net` as body + linear head, with the `stateless_call` that `adaptation.forward`
    and `sgd_adapt` use: weights = the body's trainable weights, then kernel [D, N] and
    bias [N] for any N. (A plain object, not a Keras layer: the learner must not track
    the body as a second path to its variables, which would change its checkpoints.)

    The body is every layer but the last; the head is `features @ kernel + bias`, its
    kernel and bias the last two entries of the weight list like the Dense layer's (a
    Keras layer's variables cannot take another shape: StatelessScope refuses it). On
    the learned head the split computes what the whole network computes (bitwise:
    tests/heads_test.py)."""

    def __init__(self, net: keras.Model):
        head = net.layers[-1] if getattr(net, "layers", None) else None
        trainable = net.trainable_variables
        if (not isinstance(head, keras.layers.Dense) or head.bias is None
                or head.activation not in (None, keras.activations.linear)
                or len(trainable) < 2 or trainable[-2] is not head.kernel
                or trainable[-1] is not head.bias):
            raise ValueError(
                f"meta.head_init other than 'learned' needs a network whose last layer is a "
                f"linear Dense head with a bias, its kernel and bias the last two trainable "
                f"weights; {net.name}'s last layer is {type(head).__name__}")
        inputs = net.inputs  # one tensor, not a list of one: Keras warns on each call
        self.body = keras.Model(inputs[0] if len(inputs) == 1 else inputs, head.input,
                                name=f"{net.name}_body")
        same = (len(self.body.trainable_variables) == len(trainable) - 2
                and all(a is b for a, b in zip(self.body.trainable_variables, trainable))
                and len(self.body.non_trainable_variables) == len(net.non_trainable_variables)
                and all(a is b for a, b in zip(self.body.non_trainable_variables,
                                                net.non_trainable_variables)))
        if not same:
            raise ValueError(f"the body of {net.name} (every layer but its Dense head) does "
                             "not list the network's weights in the network's order")
        self.ways = head.units

    def features(self, weights, non_trainable, images, statistics_rows=None):
        """Penultimate features [B, D] with the body's weights (`weights` without the
        head); `statistics_rows` as in `adaptation.forward`."""
        return adaptation.forward(self.body, weights[:-2], non_trainable, images,
                                  statistics_rows)

    def stateless_call(self, weights, non_trainable, images, training=True,
                       statistics_rows=None):
        features = self.features(weights, non_trainable, images, statistics_rows)
        return tf.matmul(features, weights[-2]) + weights[-1], non_trainable


def prototype_head(features, labels, num_classes):
    """Proto-MAML's head: kernel [D, N] with columns 2 c_k, bias [N] = -|c_k|^2, c_k the
    mean of class k's `features`."""
    prototypes = tf.math.unsorted_segment_mean(features, labels, num_classes)
    return [tf.transpose(2.0 * prototypes), -tf.reduce_sum(tf.square(prototypes), axis=-1)]


def zero_head(features, num_classes):
    """A zero kernel [D, N] and bias [N] of the features' dtype."""
    dim = tf.shape(features)[-1]
    return [tf.zeros(tf.stack([dim, num_classes]), features.dtype),
            tf.zeros(tf.reshape(num_classes, [1]), features.dtype)]


def initial_head(head_init, split, weights, non_trainable, support_images, support_labels,
                 ways):
    """[kernel, bias] of an N-way test task (N = max label + 1) by `head_init` (not
    'learned': there the network runs whole); 'auto' keeps the learned head when N ==
    `ways` (tf.cond: N is known only when the graph runs)."""
    num_classes = tf.reduce_max(support_labels) + 1

    def made():
        features = split.features(weights, non_trainable, support_images)
        if head_init in ("zero", "auto"):  # auto: zero for N != ways (chosen on val)
            return zero_head(features, num_classes)
        return prototype_head(features, support_labels, num_classes)

    if head_init == "auto":
        learned = list(weights[-2:])
        kernel, bias = tf.cond(tf.equal(num_classes, ways), lambda: learned, made)
        return [kernel, bias]
    return made()
