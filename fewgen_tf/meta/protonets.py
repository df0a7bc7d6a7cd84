"""Prototypical networks (Snell et al. 2017) as a Keras model.

Logits are minus the squared Euclidean distance between a query's embedding and each
class prototype (the mean support embedding), SUMMED over features as in the paper.
(The LASIUM reference code takes the mean over features, which rescales the logits by
1/dim and weakens training; that is a bug we do not copy.)

At test time the inductive answer (evaluation's headline, the exported `classify`)
embeds the queries with the support set's BatchNorm moments, so each query's logits
depend on the support set and itself alone. The transductive answer (`classify_task`,
eval.json's `task_accuracy`) embeds support and queries with their joint moments, as
in training, and can refine the prototypes by the task's own unlabelled queries
(`meta.transductive_steps` > 0): soft k-means
seeded by the support prototypes, Ren et al. 2018 ("Meta-learning for semi-supervised
few-shot classification") eq. 1-2,
    p_c <- (sum_i h(x_i) [y_i = c] + sum_j h(q_j) w_jc) / (n_c + sum_j w_jc),
    w_jc = softmax_c(-|h(q_j) - p_c|^2),
repeated `steps` times. Training is unchanged (plain prototypes).
"""

import tensorflow as tf

from fewgen_tf.meta import adaptation
from fewgen_tf.meta.learner import FewShotLearner


def squared_distance_logits(query_embeddings, prototypes):
    """-|q - p|^2 summed over features: [Q, N]."""
    differences = query_embeddings[:, None, :] - prototypes[None, :, :]
    return -tf.reduce_sum(tf.square(differences), axis=-1)


def prototype_logits(support_embeddings, support_labels, query_embeddings, num_classes,
                     transductive_steps=0):
    """Query logits against the support prototypes, refined `transductive_steps` times
    by soft k-means over the queries (module docstring; 0: Snell et al.'s prototypes)."""
    one_hot = tf.one_hot(support_labels, num_classes, dtype=support_embeddings.dtype)
    support_sums = tf.matmul(one_hot, support_embeddings, transpose_a=True)  # [N, D]
    support_counts = tf.reduce_sum(one_hot, axis=0)[:, None]                 # [N, 1]
    prototypes = support_sums / support_counts
    for _ in range(transductive_steps):
        weights = tf.nn.softmax(squared_distance_logits(query_embeddings, prototypes))  # [Q, N]
        prototypes = ((support_sums + tf.matmul(weights, query_embeddings, transpose_a=True))
                      / (support_counts + tf.reduce_sum(weights, axis=0)[:, None]))
    return squared_distance_logits(query_embeddings, prototypes)


class ProtoNets(FewShotLearner):
    """Transductive answers only: `transductive_steps` soft k-means refinements of the
    prototypes by the queries (0: none)."""

    def __init__(self, net, ways, transductive_steps=0, **kwargs):
        super().__init__(net, ways, **kwargs)
        self.transductive_steps = int(transductive_steps)

    def task_logits(self, weights, non_trainable, support_images, support_labels,
                    query_images, training, transductive=False):
        n_support = tf.shape(support_images)[0]
        joint = training or transductive  # BatchNorm moments of support and queries
        embeddings = adaptation.forward(self.net, weights, non_trainable,
                                        tf.concat([support_images, query_images], 0),
                                        statistics_rows=None if joint else n_support)
        num_classes = tf.reduce_max(support_labels) + 1  # any ways at test time
        steps = self.transductive_steps if transductive and not training else 0
        return prototype_logits(embeddings[:n_support], support_labels, embeddings[n_support:],
                                num_classes, transductive_steps=steps)

    @property
    def outer_ways(self):
        return None  # prototypes work for any number of classes

    @property
    def task_ways(self):
        return None
