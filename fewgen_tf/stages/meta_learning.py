"""Meta-learn on a stream of training episodes, select on validation classes, evaluate
on test classes and export the classifier: the step the `supervised` pipeline (real
labelled episodes) and LASIUM (generated episodes) share.

With `eval.untrained_baseline` / `eval.supervised_baseline` the same test tasks are
also answered by the untrained network (the learner at its initialisation, 0
iterations, the same test-time procedure) and by the learner meta-trained on labelled
episodes of the train classes (the supervised upper bound, trained in
`baselines/supervised/` with its own checkpoints, so it resumes like the main run);
`summary.json` holds the rows side by side with their paired differences.
"""

import os

from absl import logging

from fewgen_tf import config as config_lib
from fewgen_tf import distribute, export, progress, training
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import episodes
from fewgen_tf.errors import ConfigError
from fewgen_tf.meta import evaluation, factory
from fewgen_tf.metrics import fewshot

SUPERVISED_BASELINE_DIR = os.path.join("baselines", "supervised")


def labelled_episodes(config, train_split):
    """`make_train_episodes(start_step)` for real labelled episodes of `train_split`
    (stream `train` of `config.seed`): the supervised pipeline's training stream and the
    supervised baseline's."""
    train, meta_batch = config.train, config.meta.meta_batch_size

    def make_train_episodes(start_step):
        return episodes.episode_dataset(
            train_split, train.ways, train.shots, train.queries, config.seed, "train",
            start=start_step * meta_batch, meta_batch_size=meta_batch)
    return make_train_episodes


def build_learner(config, image_shape):
    """The configured learner, built under the run's strategy and initialised from
    `config.seed` (so every call gives the same starting weights)."""
    strategy = distribute.make_strategy(config.distribute)
    if config.meta.meta_batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(f"meta.meta_batch_size={config.meta.meta_batch_size} is not divisible "
                          f"by the {strategy.num_replicas_in_sync} replicas")
    with strategy.scope():
        return factory.build_learner(config, image_shape)


def learner_of_run(workdir, image_shape, **meta_overrides):
    """(config, learner) of the finished run in `workdir`: the learner rebuilt from the
    run's own config.json (with `meta_overrides`, e.g. head_init='zero', set in
    `config.meta`) and restored to the weights the run evaluated
    (`training.restore_finished`; the scratch baseline has none: its initialisation)."""
    config = workdir_lib.finished_run_config(workdir, "meta", "meta-learner")
    for key, value in meta_overrides.items():
        config.meta[key] = value
    learner = build_learner(config, tuple(image_shape))
    if config.meta.algorithm != "scratch" and config.meta.iterations > 0:
        logging.info("restored %s", training.restore_finished(learner, workdir))
    return config, learner


def train_learner(config, workdir, learner, make_train_episodes, val_split):
    """Meta-train `learner` for `meta.iterations` (resumable in `workdir`), keeping the
    best weights on `val_split` when `train.val_tasks` > 0."""
    if config.meta.algorithm == "scratch" or config.meta.iterations == 0:
        return learner
    validate = None
    if config.train.val_tasks > 0:
        def validate():
            return evaluation.task_accuracies(learner, val_split, config.eval, "val",
                                              num_tasks=config.train.val_tasks,
                                              progress=False).mean()
    steps = training.fit_resumable(
        learner, make_train_episodes, config.meta.iterations,
        min(config.train.steps_per_epoch, config.meta.iterations), workdir, validate)
    logging.info("meta-training done at step %d", steps)
    return learner


def test_accuracies(config, learner, test_split, what="", transductive=False):
    """Per-task accuracies on the fixed test tasks (eval.seed, stream `test`): each query
    answered alone (`classify`), or a task's queries together (`transductive`:
    `classify_task`)."""
    return evaluation.task_accuracies(learner, test_split, config.eval, "test", what=what,
                                      transductive=transductive)


def _test_time_fields(config):
    """What eval.json / summary.json say of the learner's test-time procedure: an
    adapting learner's head; ProtoNets' transductive refinement (when on: a transductive
    accuracy must say so)."""
    if config.meta.algorithm in config_lib.ADAPTING_ALGORITHMS:
        return {"head_init": config.meta.head_init}
    if config.meta.algorithm == "protonets":
        steps = config.meta.transductive_steps
        return {"transductive_steps": steps} if steps else {}
    return {}


def _iterations(learner):
    return int(learner.optimizer.iterations.numpy())


def compare_with_baselines(config, workdir, row, accuracies, learner, test_split,
                           supervised=None):
    """summary.json: the run's per-task `accuracies` (its `row` = (name, what it is))
    beside the untrained network's (`eval.untrained_baseline`) and the supervised
    learner's (given when `eval.supervised_baseline`), all on the same test tasks; logged
    as a table."""
    name, what = row
    rows = {name: (accuracies, {"iterations": _iterations(learner), "what": what})}
    if config.eval.untrained_baseline:
        untrained = build_learner(config, test_split.image_shape)
        rows["untrained"] = (test_accuracies(config, untrained, test_split, "untrained"),
                             {"iterations": 0, "what": "the same network at its initialisation "
                                                       "(seed), not trained"})
    if supervised is not None:
        rows["supervised"] = (test_accuracies(config, supervised, test_split, "supervised"),
                              {"iterations": _iterations(supervised),
                               "what": "meta-trained on labelled episodes of the train "
                                       "classes (upper bound)"})
    tasks = {"split": "test", "ways": config.eval.ways, "shots": config.eval.shots,
             "queries": config.eval.queries, "seed": config.eval.seed,
             "algorithm": config.meta.algorithm, "inner_steps": config.eval.inner_steps,
             **_test_time_fields(config)}
    summary = fewshot.comparison_summary(rows, tasks)
    if not config.eval.supervised_baseline and name != "supervised":
        summary["not_run"] = {"supervised": "--config.eval.supervised_baseline=True adds it "
                                            "(meta-training on labelled episodes)"}
    fewshot.write_summary_json(workdir, summary)
    for line in fewshot.format_comparison(summary):
        logging.info("%s", line)
    return summary


def meta_learn(config, workdir, make_train_episodes, val_split, test_split, train_split=None,
               row=None, more_exports=None):
    """Build the learner under the configured strategy, train it on
    `make_train_episodes(start_step)` (resumable), select on `val_split`, evaluate on
    `test_split` (eval.json; with baselines, summary.json) and export (the classifier,
    then `more_exports()` if given). `train_split` (labelled) is what the supervised
    baseline trains on; `row` = (name, what it is) names this run in summary.json
    (default: the pipeline's name). Returns the eval.json dict."""
    row = row or (config.pipeline, f"{config.meta.algorithm} meta-trained by the "
                                   f"{config.pipeline} pipeline")
    name = row[0]
    learner = build_learner(config, test_split.image_shape)
    with progress.stage("meta-training", f"{config.meta.algorithm}, "
                                         f"{config.meta.iterations} iterations"):
        train_learner(config, workdir, learner, make_train_episodes, val_split)

    supervised = None
    if config.eval.supervised_baseline:
        if train_split is None:
            raise ConfigError(f"eval.supervised_baseline: the {name} pipeline has no labelled "
                              "train classes to train it on")
        with progress.stage("supervised baseline", f"{config.meta.algorithm} on labelled "
                                                   f"episodes, {config.meta.iterations} "
                                                   f"iterations, in {SUPERVISED_BASELINE_DIR}"):
            supervised = build_learner(config, test_split.image_shape)
            train_learner(config, os.path.join(workdir, SUPERVISED_BASELINE_DIR), supervised,
                          labelled_episodes(config, train_split), val_split)

    compare = config.eval.untrained_baseline or supervised is not None
    with progress.stage("evaluation", f"{config.eval.num_tasks} test tasks "
                                      f"({config.eval.ways}-way {config.eval.shots}-shot, "
                                      f"{config.eval.queries} queries)"
                                      + (" for each compared network" if compare else "")):
        accuracies = test_accuracies(config, learner, test_split, name)
        task_level = fewshot.accuracy_summary(test_accuracies(
            config, learner, test_split, f"{name} (queries together)", transductive=True))
        result = fewshot.write_eval_json(
            workdir, accuracies, ways=config.eval.ways, shots=config.eval.shots,
            queries=config.eval.queries, seed=config.eval.seed, split="test",
            algorithm=config.meta.algorithm, inner_steps=config.eval.inner_steps,
            iterations=_iterations(learner), task_accuracy=task_level,
            **_test_time_fields(config))
        logging.info("test accuracy %s (each query alone, as classify); %s with a task's "
                     "queries together (classify_task)", fewshot.format_accuracy(result),
                     fewshot.format_accuracy(task_level))
        if compare:
            compare_with_baselines(config, workdir, row, accuracies, learner, test_split,
                                   supervised)
    if config.export.enabled:
        with progress.stage("export"):
            export.export_classifier(learner, export.export_dir(workdir, "classifier",
                                                                config.export.version))
            if more_exports is not None:
                more_exports()
    return result
