"""`config.meta.algorithm` -> a compiled meta-learner with its outer optimizer."""

import keras

from fewgen_tf import config as config_lib
from fewgen_tf.nets import backbones
from fewgen_tf.meta.maml import MAML
from fewgen_tf.meta.protonets import ProtoNets
from fewgen_tf.meta.reptile import Reptile
from fewgen_tf.meta.scratch import Scratch

ALGORITHMS = config_lib.META_ALGORITHMS  # the names meta.algorithm takes


def build_learner(config, image_shape):
    """Build and compile the learner named by `config.meta.algorithm` for `image_shape`
    (call inside `strategy.scope()`) from the validated `meta.*`, `train.*` and `eval.*`
    (`pipelines.check_config`). Weights are initialised from `config.seed`."""
    meta = config.meta
    algorithm = meta.algorithm
    train_ways, eval_ways = config.train.ways, config.eval.ways
    keras.utils.set_random_seed(config.seed)
    net_options = dict(filters=meta.filters, backbone=meta.backbone, init=meta.init,
                       bn_epsilon=meta.bn_epsilon)
    head_init = meta.head_init

    def classifier(ways):
        return backbones.classifier(image_shape, ways, **net_options)

    if algorithm == "protonets":
        learner = ProtoNets(backbones.embedding(image_shape, **net_options), train_ways,
                            transductive_steps=meta.transductive_steps,
                            name="protonets")
        optimizer = keras.optimizers.Adam(meta.meta_lr)
    elif algorithm in ("maml", "fomaml"):
        learner = MAML(classifier(train_ways), train_ways,
                       inner_lr=meta.inner_lr, inner_steps=meta.inner_steps,
                       eval_inner_steps=config.eval.inner_steps,
                       first_order=algorithm == "fomaml", head_init=head_init,
                       name=algorithm)
        optimizer = keras.optimizers.Adam(meta.meta_lr)
    elif algorithm == "reptile":
        learner = Reptile(classifier(train_ways),
                          train_ways, inner_lr=meta.inner_lr, inner_steps=meta.inner_steps,
                          eval_inner_steps=config.eval.inner_steps, head_init=head_init,
                          name="reptile")
        optimizer = keras.optimizers.SGD(meta.meta_step_size)
    else:
        learner = Scratch(classifier(eval_ways), eval_ways,
                          lr=meta.scratch_lr, steps=meta.scratch_steps, head_init=head_init,
                          name="scratch")
        optimizer = keras.optimizers.SGD(meta.scratch_lr)
    learner.compile(optimizer=optimizer, jit_compile=meta.jit_compile)
    return learner
