"""The papers' "training from scratch" baseline: no meta-learning at all.

Every test task trains a fresh network (the same random initialisation each time,
drawn from `config.seed`) on its support set alone with `steps` gradient steps at
`lr`, through the shared adaptation routine, and classifies its queries. A task of
other than `ways` classes gets its head from `head_init` (fewgen_tf/meta/heads.py; with
random features, prototypes are the nearest-mean classifier of the untrained network).
"""

from fewgen_tf.errors import ConfigError
from fewgen_tf.meta.learner import AdaptingLearner


class Scratch(AdaptingLearner):
    """Adapts from the untouched initial weights with `steps` steps at train and test."""

    def __init__(self, net, ways, lr=0.1, steps=100, head_init="auto", **kwargs):
        super().__init__(net, ways, inner_lr=lr, inner_steps=steps, eval_inner_steps=steps,
                         first_order=True, head_init=head_init, **kwargs)

    def train_step(self, episodes):
        raise ConfigError("the scratch baseline has no meta-training; set meta.iterations=0")
