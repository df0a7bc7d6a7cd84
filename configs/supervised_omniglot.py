"""Supervised few-shot baselines on Omniglot (LASIUM split, 5-way 1-shot by default).

Variants: `maml` (second order), `fomaml`, `protonets`, `reptile`, `scratch` (a fresh
network trained on each test task's support set). MAML's hyperparameters are the LASIUM
authors' TF2 code's (5-way, 5 training queries a class, inner lr 0.4 for 5 steps, Adam
1e-3, meta-batch 4); evaluation is 1000 test tasks, 15 queries, 50 adaptation steps.
data.root (or FEWGEN_DATA_DIR) must hold omniglot/.
Example: --config=configs/supervised_omniglot.py:maml --config.eval.shots=5
"""

from fewgen_tf.config import add_meta_learning, base_config

VARIANTS = ("maml", "fomaml", "protonets", "reptile", "scratch")


def get_config(variant="protonets"):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    config = add_meta_learning(base_config(), variant)
    config.pipeline = "supervised"
    config.data.name = "omniglot"
    config.data.split = "lasium"
    config.data.image_size = 28
    config.meta.iterations = 5000
    config.train.steps_per_epoch = 500
    # Meta-learning's ops are small: one thread each, side by side (1.2-1.4x on CPU,
    # benchmarks/RESULTS.md "Meta-learner throughput"); 0 restores TensorFlow's default.
    config.intra_op_threads = 1
    if variant == "protonets":
        # Snell et al. train with more ways than they test: 20-way 15-query episodes,
        # one a step (ProtoNets evaluates at any eval.ways).
        config.train.ways = 20
        config.train.queries = 15
        config.meta.meta_batch_size = 1
    if variant == "reptile":
        # Nichol et al.'s Omniglot setting, with SGD inner steps: several steps on
        # support + query, outer step size 1.
        config.meta.inner_lr = 0.1
        config.meta.inner_steps = 5
        config.meta.meta_step_size = 1.0
        config.meta.meta_batch_size = 5
    if variant == "scratch":
        config.meta.iterations = 0
    return config
