"""Meta-learn on a stream of training episodes, select on validation classes, evaluate
on test classes and export the classifier: the step the `supervised` pipeline (real
labelled episodes) and LASIUM (generated episodes) share.
"""

from absl import logging

from fewgen_tf import distribute, export, training
from fewgen_tf.errors import ConfigError
from fewgen_tf.meta import evaluation, factory
from fewgen_tf.metrics import fewshot


def meta_learn(config, workdir, make_train_episodes, val_split, test_split):
    """Build the learner under the configured strategy, train it on
    `make_train_episodes(start_step)` (resumable), select on `val_split`, evaluate on
    `test_split` (eval.json) and export. Returns the eval.json dict."""
    strategy = distribute.make_strategy(config.distribute)
    if config.meta.meta_batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(f"meta.meta_batch_size={config.meta.meta_batch_size} is not divisible "
                          f"by the {strategy.num_replicas_in_sync} replicas")
    with strategy.scope():
        learner = factory.build_learner(config, test_split.image_shape)

    if config.meta.algorithm != "scratch" and config.meta.iterations > 0:
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

    logging.info("evaluating on %d test tasks (%d-way %d-shot, %d queries)",
                 config.eval.num_tasks, config.eval.ways, config.eval.shots, config.eval.queries)
    accuracies = evaluation.task_accuracies(learner, test_split, config.eval, "test")
    result = fewshot.write_eval_json(
        workdir, accuracies, ways=config.eval.ways, shots=config.eval.shots,
        queries=config.eval.queries, seed=config.eval.seed, split="test",
        algorithm=config.meta.algorithm, inner_steps=config.eval.inner_steps,
        iterations=int(learner.optimizer.iterations.numpy()))
    logging.info("test accuracy %s", fewshot.format_accuracy(result))
    if config.export.enabled:
        export.export_classifier(learner, export.export_dir(workdir, "classifier",
                                                            config.export.version))
    return result
