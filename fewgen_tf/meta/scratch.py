"""The papers' "training from scratch" baseline: no meta-learning at all.

Every test task trains a fresh network (the same random initialisation each time,
drawn from `config.seed`) on its support set alone with `steps` gradient steps at
`lr`, through the shared adaptation routine, and classifies its queries.
"""

from fewgen_tf.errors import ConfigError
from fewgen_tf.meta import adaptation
from fewgen_tf.meta.learner import FewShotLearner


class Scratch(FewShotLearner):

    def __init__(self, net, ways, lr=0.1, steps=100, **kwargs):
        super().__init__(net, ways, **kwargs)
        self.lr = lr
        self.steps = steps

    def task_logits(self, weights, non_trainable, support_images, support_labels,
                    query_images, training):
        adapted = adaptation.sgd_adapt(self.net, weights, non_trainable, support_images,
                                       support_labels, self.steps, self.lr, first_order=True)
        return adaptation.forward(self.net, adapted, non_trainable, query_images)

    def train_step(self, episodes):
        raise ConfigError("the scratch baseline has no meta-training; set meta.iterations=0")
