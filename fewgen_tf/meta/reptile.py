"""Reptile (Nichol et al. 2018) as a Keras model.

For each task of the meta-batch: from the current weights theta, `inner_steps` SGD
steps at `inner_lr` on all the task's labelled images (support and query: at training
time both are just the task's data), giving phi. The outer update moves theta toward
the adapted weights, theta <- theta + meta_step_size * mean_tasks(phi - theta),
implemented as the "gradient" mean(theta - phi) applied by plain SGD with learning rate
`meta_step_size` (the compiled optimizer). At test time the same inner loop adapts on
the support set only, for `eval_inner_steps` steps. BatchNorm uses batch statistics
throughout (see adaptation.py), so there are no running statistics to average.
"""

import tensorflow as tf

from fewgen_tf.meta import adaptation
from fewgen_tf.meta.learner import AdaptingLearner, check_episode_batch, query_accuracy


class Reptile(AdaptingLearner):

    def __init__(self, net, ways, inner_lr=0.1, inner_steps=5, eval_inner_steps=50,
                 head_init="auto", **kwargs):
        super().__init__(net, ways, inner_lr, inner_steps, eval_inner_steps, first_order=True,
                         head_init=head_init, **kwargs)

    def outer_direction(self, episodes):
        """Per-variable sum over this replica's tasks of (theta - phi_task) divided by
        the global meta-batch size, with per-task query loss/accuracy after adaptation."""
        weights, non_trainable = self.current_weights()
        per_variable = [[] for _ in weights]
        losses, accuracies = [], []
        for t in range(episodes["support_images"].shape[0]):
            images = tf.concat([episodes["support_images"][t], episodes["query_images"][t]], 0)
            labels = tf.concat([episodes["support_labels"][t], episodes["query_labels"][t]], 0)
            adapted = adaptation.sgd_adapt(self.net, weights, non_trainable, images, labels,
                                           self.inner_steps, self.inner_lr, first_order=True)
            for i, (w, a) in enumerate(zip(weights, adapted)):
                per_variable[i].append(w - a)
            logits = adaptation.forward(self.net, adapted, non_trainable,
                                        episodes["query_images"][t])
            losses.append(adaptation.cross_entropy(logits, episodes["query_labels"][t]))
            accuracies.append(query_accuracy(logits, episodes["query_labels"][t]))
        directions = [tf.reduce_sum(tf.stack(d), 0) / _global_batch(len(d)) for d in per_variable]
        return directions, losses, accuracies

    def train_step(self, episodes):
        check_episode_batch(episodes, self.image_shape, self.ways)
        directions, losses, accuracies = self.outer_direction(episodes)
        self.optimizer.apply_gradients(zip(directions, self.net.trainable_variables))
        return self._record(losses, accuracies)


def _global_batch(local_batch):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return float(local_batch * replicas)
