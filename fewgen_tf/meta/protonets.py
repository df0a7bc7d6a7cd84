"""Prototypical networks (Snell et al. 2017) as a Keras model.

Logits are minus the squared Euclidean distance between a query's embedding and each
class prototype (the mean support embedding), SUMMED over features as in the paper.
(The LASIUM reference code takes the mean over features, which rescales the logits by
1/dim and weakens training; that is a bug we do not copy.)
"""

import tensorflow as tf

from fewgen_tf.meta import adaptation
from fewgen_tf.meta.learner import FewShotLearner


def prototype_logits(support_embeddings, support_labels, query_embeddings, num_classes):
    prototypes = tf.math.unsorted_segment_mean(support_embeddings, support_labels, num_classes)
    differences = query_embeddings[:, None, :] - prototypes[None, :, :]
    return -tf.reduce_sum(tf.square(differences), axis=-1)


class ProtoNets(FewShotLearner):

    def task_logits(self, weights, non_trainable, support_images, support_labels,
                    query_images, training):
        n_support = tf.shape(support_images)[0]
        embeddings = adaptation.forward(self.net, weights, non_trainable,
                                        tf.concat([support_images, query_images], 0))
        num_classes = tf.reduce_max(support_labels) + 1  # any ways at test time
        return prototype_logits(embeddings[:n_support], support_labels, embeddings[n_support:],
                                num_classes)

    @property
    def outer_ways(self):
        return None  # prototypes work for any number of classes

    @property
    def task_ways(self):
        return None
