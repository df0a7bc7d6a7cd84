"""The one place where the config.json of an older workdir is brought up to date.

A key added after some runs finished is absent from their config.json; those runs
behaved as the value below says (`ADDED`). A key removed since (an option that lost its
ablation) is still in older config.json files; the code now does what its `REMOVED`
value did, so a run recorded with another value cannot be rebuilt or resumed
(`upgrade` raises). Everything that reads a finished run's config.json (resuming,
`generator.from_workdir`'s rebuilt generator, the benchmark and evaluation scripts)
goes through `upgrade`, so the builders read every key directly. Nothing here imports
TensorFlow or a method.
"""

import copy

from fewgen_tf.errors import ConfigError

# key -> the behaviour of runs from before the key existed
ADDED = {
    "data.format": "auto",
    "data.subset": "test",
    "data.channels": 3,
    "data.center_crop": True,
    "data.num_classes": 100,
    "data.images_per_class": 20,
    "data.synthetic_seed": 0,
    "data.split_sizes": (0.6, 0.2, 0.2),
    "data.split_seed": 0,
    "meta.backbone": "conv4",
    "meta.init": "torch",
    "meta.bn_epsilon": 1e-3,
    "meta.head_init": "auto",
    "meta.transductive_steps": 0,
    "meta.jit_compile": False,
    "generator.mode_seeking_weight": 1.0,
    "generator.jit_compile": False,
    "gen_eval.evaluation_network_seed": 0,
    "augintae.variant": "augintae",
    "augintae.architecture": "auto",
    "augintae.width": 1.0,
    "augintae.adversarial": True,
    "augintae.lr_schedule": "paper",
    "augintae.lsgan_targets": (-1.0, 1.0, 0.0),
    "augintae.refine_steps": 0,
    "augintae.refine_lr": 0.05,
    "augintae.adapt_steps": 0,
    "augintae.adapt_lr": 1e-4,
    "cola.num_clusters": 10,
    "cola.architecture": "infogan",
    "cola.conditional_bn": False,
    "cola.width": 1.0,
    "cola.mixture_rank": 0,
    "cola.steps_per_epoch": 0,
    "cola.rotnet": True,
    "cola.refine_epoch": 0,
    "cola.refine_method": "kmeans",
    "cola.assignment_loss": "mean",
    "meta_favae.noise_dim": 64,
    "meta_favae.width": 1.0,
    "meta_favae.upsampling": "transposed",
    "meta_favae.meta_batch": 1,
    "meta_favae.rounds": 10,
    "meta_favae.vae_steps": 5,
    "meta_favae.d_steps": 1,
    "meta_favae.g_steps": 5,
    "meta_favae.inner_vae_lr": 1e-4,
    "meta_favae.inner_gan_lr": 1e-3,
    "meta_favae.inner_beta_1": 0.5,
    "meta_favae.inner_beta_2": 0.999,
    "meta_favae.outer_vae_lr": 1e-5,
    "meta_favae.outer_gan_lr": 1e-4,
    "meta_favae.beta": 10.0,
    "meta_favae.gan_loss": "standard",
    "meta_favae.vae": True,
    "meta_favae.feedback": True,
    "meta_favae.feedback_generations": 4,
    "meta_favae.feedback_range": (0.1, 0.9),
    "meta_favae.code_source": "prior",
    "meta_favae.generator_reconstruction": 0.0,
    "meta_favae.fit_steps": 0,
    "meta_favae.fit_lr": 1e-3,
    "meta_favae.task_size": 4,
}

# key -> (the value whose behaviour the code keeps, or None: any value behaved alike;
# the value of runs from before the key existed; a key that arrived together with it and
# stays). A config.json without the key predates it if it also lacks that companion;
# otherwise it was written after the removal, with the kept behaviour.
REMOVED = {
    "meta.lr_halvings": (0, 0, None),  # neutral on validation (benchmarks/RESULTS.md)
    "meta.test_shifts": (0, 0, None),  # +0.04 over transductive prototypes at 5x the cost
    # step I matched batch-statistics embeddings ("training") before the key existed
    "cola.assign_embedding": ("inference", "training", "cola.rotnet"),
    "cola.assign_scope": ("batch", "batch", None),  # + matching over all images: no gain
    "cola.assign_chunk": (None, None, None),        # only meant something with scope "all"
}


def _find(tree, key):
    *sections, leaf = key.split(".")
    for section in sections:
        if not isinstance(tree, dict) or section not in tree:
            return None, leaf
        tree = tree[section]
    return (tree if isinstance(tree, dict) else None), leaf


def upgrade(tree: dict, where: str = "config.json") -> dict:
    """A copy of the plain-dict config `tree` with every `REMOVED` key dropped (first:
    whether a run predates a key is read before anything is filled in) and every
    `ADDED` key its sections lack filled in; ConfigError (naming `where`) for a run
    recorded with a removed option's other value."""
    tree = copy.deepcopy(tree)
    for key, (kept, before, companion) in REMOVED.items():
        node, leaf = _find(tree, key)
        if node is None:
            continue
        predates = companion is not None and companion.rsplit(".", 1)[-1] not in node
        value = node.pop(leaf, before if predates else kept)
        if kept is not None and value != kept:
            raise ConfigError(f"{where} was written by a run with {key} = {value!r}, an "
                              f"option since removed (only {kept!r} remains): retrain it "
                              "in a new workdir")
    for key, value in ADDED.items():
        node, leaf = _find(tree, key)
        if node is not None and leaf not in node:
            node[leaf] = list(value) if isinstance(value, tuple) else value
    return tree
