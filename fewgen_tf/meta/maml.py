"""MAML (Finn et al. 2017) and first-order MAML as a Keras model.

Inner loop: `inner_steps` gradient steps at `inner_lr` on each task's support set
(`adaptation.sgd_adapt`, via `AdaptingLearner`). Outer loop (`FewShotLearner.train_step`):
the mean query loss of the adapted weights over the meta-batch, differentiated through
the inner loop (second order) or not (`first_order=True`: stop_gradient on the inner
gradients), applied by the compiled optimizer (Adam at `meta.meta_lr`).
"""

from fewgen_tf.meta.learner import AdaptingLearner


class MAML(AdaptingLearner):
    """All of MAML's maths lives in AdaptingLearner.task_logits (inner loop) and
    FewShotLearner.train_step (outer loop); this class names the combination."""
