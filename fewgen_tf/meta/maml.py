"""MAML (Finn et al. 2017) and first-order MAML as a Keras model.

Inner loop: `inner_steps` gradient steps at `inner_lr` on each task's support set
(`adaptation.sgd_adapt`). Outer loop: the mean query loss of the adapted weights over
the meta-batch, differentiated through the inner loop (second order) or not
(`first_order=True`), applied by the compiled optimizer (Adam at `meta.meta_lr`).
"""

import tensorflow as tf

from fewgen_tf.meta import adaptation
from fewgen_tf.meta.learner import (FewShotLearner, check_episode_batch, mean_over_global_batch,
                                    query_accuracy)


class MAML(FewShotLearner):

    def __init__(self, net, ways, inner_lr=0.4, inner_steps=5, eval_inner_steps=50,
                 first_order=False, **kwargs):
        super().__init__(net, ways, **kwargs)
        self.inner_lr = inner_lr
        self.inner_steps = inner_steps
        self.eval_inner_steps = eval_inner_steps
        self.first_order = first_order

    def task_logits(self, weights, non_trainable, support_images, support_labels,
                    query_images, training):
        steps = self.inner_steps if training else self.eval_inner_steps
        adapted = adaptation.sgd_adapt(self.net, weights, non_trainable, support_images,
                                       support_labels, steps, self.inner_lr,
                                       first_order=self.first_order or not training)
        return adaptation.forward(self.net, adapted, non_trainable, query_images)

    def meta_loss(self, episodes):
        """Mean query loss over the (global) meta-batch, and per-task accuracies."""
        weights, non_trainable = self.current_weights()
        losses, accuracies = [], []
        for t in range(episodes["support_images"].shape[0]):
            logits = self.task_logits(weights, non_trainable, episodes["support_images"][t],
                                      episodes["support_labels"][t],
                                      episodes["query_images"][t], training=True)
            losses.append(adaptation.cross_entropy(logits, episodes["query_labels"][t]))
            accuracies.append(query_accuracy(logits, episodes["query_labels"][t]))
        return losses, accuracies

    def train_step(self, episodes):
        check_episode_batch(episodes, self.image_shape, self.ways)
        variables = self.net.trainable_variables
        with tf.GradientTape() as tape:
            losses, accuracies = self.meta_loss(episodes)
            loss = mean_over_global_batch(losses)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._record(losses, accuracies)
