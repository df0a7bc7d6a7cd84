"""Pipeline `supervised`: meta-train on labelled episodes of the train classes, select
on the val classes, evaluate on the test classes, export the classifier.

With meta.algorithm='scratch' it is the papers' "training from scratch" baseline: no
meta-training, a fresh network trained on each test task's support set.
Meta-learning itself is `stages.meta_learning.meta_learn`, which LASIUM shares with
generated training episodes.
"""

from fewgen_tf import progress
from fewgen_tf.data import episodes, registry
from fewgen_tf.stages.meta_learning import labelled_episodes, meta_learn


def run(config, workdir):
    splits = registry.load_splits(config.data)
    train = config.train
    evaluation = (config.eval.ways, config.eval.shots, config.eval.queries)
    requests = [("train", (train.ways, train.shots, train.queries)), ("test", evaluation)]
    if train.val_tasks > 0:
        requests.append(("val", evaluation))
    for part, (ways, shots, queries) in requests:  # before anything trains
        episodes.check_episode_request(splits[part], ways, shots, queries)
    progress.plan(["meta-training", "evaluation"] + (["export"] if config.export.enabled else []))
    what = ("a fresh network trained on each test task's support set"
            if config.meta.algorithm == "scratch" else
            f"{config.meta.algorithm} meta-trained on labelled episodes of the train classes")
    return meta_learn(config, workdir, labelled_episodes(config, splits["train"]),
                      splits["val"], splits["test"], row=("supervised", what))


