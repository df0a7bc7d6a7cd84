"""Pipeline `meta_favae` (Meta-FAVAE, Meta-AVAE and FIGR by `meta_favae.variant`):

  1. meta-train (Algorithm 1) on tasks of `meta_favae.task_size` images of one class of
     `meta_favae.train_split`: one task per meta-iteration (`meta_favae.meta_batch` > 1:
     that many side by side, batched Reptile, spread over the replicas of `distribute`:
     a multiple of their count), `generator.iterations` of them,
     through `training.fit_resumable(phase="generator")` (checkpoints/generator every
     `meta_favae.steps_per_epoch` meta-iterations with resume, tensorboard/generator,
     metrics.jsonl), a grid of ADAPTED generations on fixed classes of
     `meta_favae.grid_split` after every epoch (samples/meta_favae_epochNNNN.png) and the
     measured meta-iterations/s and tasks/s in metrics.jsonl (`"phase": "meta_favae_speed"`);
     or restore the meta-weights of `generator.from_workdir`;
  2. the few-shot generation protocol on the novel classes of `gen_eval.split`
     (gen_eval.json, samples/fewshot.png), unless `meta_favae.evaluate` is False;
  3. export: `export/fewshot_generator/V` (generate: the adaptation runs inside the
     SavedModel) and `export/generator/V` (decode / sample with the meta-weights).

Training task i is a pure function of (config.seed, i) (`data.episodes`, stream
"meta_favae"), and so is its noise (`MetaFAVAE.train_step`; with one task a
meta-iteration, i is the meta-iteration), so a resumed run continues exactly where the
interrupted one stopped.
"""

import time

import keras
from absl import logging

from fewgen_tf import distribute, export, training, visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data import episodes, generation_tasks, registry
from fewgen_tf.errors import ConfigError
from fewgen_tf.generators import registry as generator_registry
from fewgen_tf.methods.meta_favae import config as meta_favae_config
from fewgen_tf.stages.generation_eval import check_protocol, evaluate_fewshot_generator
from fewgen_tf.stages.generator import load_trained_generator

TASK_STREAM = "meta_favae"


class AdaptedGrid(keras.callbacks.Callback):
    """samples/meta_favae_epochNNNN.png after every epoch: per fixed class its seeds, a
    gap, then images generated after adapting to them (the same seeds and noise each
    epoch, so the grids show the meta-weights' progress)."""

    def __init__(self, model, workdir, tasks, num_images, seed):
        super().__init__()
        self.model_, self.workdir, self.tasks = model, workdir, tasks
        self.num_images, self.seed = num_images, seed

    def on_epoch_end(self, epoch, logs=None):
        rows = []
        for task in self.tasks:
            images = self.model_.generate(task.seed_images, self.num_images, self.seed).numpy()
            rows.append([visualize.spaced_row(task.seed_images, images)])
        workdir_lib.save_png(self.workdir, f"meta_favae_epoch{epoch + 1:04d}.png",
                             visualize.tile(rows))


class Speed(keras.callbacks.Callback):
    """Meta-iterations (and tasks, `meta_batch` a meta-iteration) per second of each
    epoch (the first one includes tracing) in metrics.jsonl and the log."""

    def __init__(self, workdir, optimizer, meta_batch=1):
        super().__init__()
        self.workdir, self.optimizer, self.meta_batch = workdir, optimizer, meta_batch

    def on_epoch_begin(self, epoch, logs=None):
        self.start_time, self.start_step = time.perf_counter(), int(self.optimizer.iterations.numpy())

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.optimizer.iterations.numpy())
        rate = (step - self.start_step) / max(time.perf_counter() - self.start_time, 1e-9)
        logging.info("meta-iterations %d: %.3f meta-iterations/s (%.3f tasks/s)", step, rate,
                     rate * self.meta_batch)
        workdir_lib.append_metrics(self.workdir, {"phase": "meta_favae_speed", "step": step,
                                                  "meta_iterations_per_s": rate,
                                                  "tasks_per_s": rate * self.meta_batch})


def _split(splits, name, key):
    if name not in splits:
        raise ConfigError(f"{key} {name!r} is not one of {sorted(splits)}")
    return splits[name]


def grid_tasks(config, splits):
    """The fixed classes of the sample grid (none when meta_favae.grid_classes = 0)."""
    m = config.meta_favae
    if not m.grid_classes:
        return []
    split = _split(splits, m.grid_split, "meta_favae.grid_split")
    if split.num_classes == 0:
        raise ConfigError(f"meta_favae.grid_split {m.grid_split!r} has no classes: name "
                          "another split or set meta_favae.grid_classes=0")
    return generation_tasks.generation_tasks(split, min(m.grid_classes, split.num_classes),
                                             m.task_size, 1, config.seed, stream="meta_favae-grid")


def meta_train(config, workdir, splits):
    """The meta-trained (or restored) model of `config` on the tasks of the train split."""
    meta_favae_config.check_meta_favae_pipeline(config)  # (novel classes, ...)
    g, m = config.generator, config.meta_favae
    train = _split(splits, m.train_split, "meta_favae.train_split")
    episodes.check_class_request(  # (not check_episode_request: its message says "shots")
        train, (("classes", 1, 1), ("meta_favae.task_size", m.task_size, 1)), 1, m.task_size,
        f"meta_favae.task_size = {m.task_size}")
    batch = int(m.meta_batch)
    # the meta-batch's tasks are spread over the replicas, each adapting its own tasks
    strategy = distribute.make_strategy(config.distribute if not g.from_workdir else "default")
    replicas = strategy.num_replicas_in_sync
    if batch % replicas and config.distribute == "auto":
        logging.info("meta_favae.meta_batch = %d: training on one device (a multiple of the "
                     "%d replicas 'auto' found would use them all)", batch, replicas)
        strategy, replicas = distribute.make_strategy("default"), 1
    if batch % replicas:
        raise ConfigError(f"meta_favae.meta_batch = {batch} tasks a meta-iteration cannot be "
                          f"spread over {replicas} replicas ({config.distribute!r}): set "
                          f"it to a multiple of {replicas}, e.g. "
                          f"--config.meta_favae.meta_batch={replicas * max(1, batch // replicas)}")
    with strategy.scope():
        model = generator_registry.build_generator(config, train.image_shape)
    if g.from_workdir:
        return load_trained_generator(model, config)
    steps_per_epoch = max(1, min(int(m.steps_per_epoch), g.iterations))

    def make_dataset(start_step):
        # meta-iteration i trains on tasks i*B .. i*B + B-1 of the stream; B = 1 on one
        # device keeps the single-task [g, H, W, C] step of Algorithm 1
        tasks = episodes.episode_dataset(train, 1, m.task_size, 0, config.seed, TASK_STREAM,
                                         start=start_step * batch,
                                         meta_batch_size=batch if batch > 1 else None)
        return tasks.map(lambda e: e["support_images"])

    callbacks = [Speed(workdir, model.optimizer, batch)]
    tasks = grid_tasks(config, splits)
    if tasks:
        callbacks.append(AdaptedGrid(model, workdir, tasks, m.grid_images, config.seed))
    logging.info("meta-training %s for %d meta-iterations of %d task(s) (tasks of %d "
                 "images from %d classes of %s)", model.name, g.iterations, batch, m.task_size,
                 train.num_classes, train.name)
    training.fit_resumable(model, make_dataset, g.iterations, steps_per_epoch, workdir,
                           phase="generator", callbacks=callbacks)
    return model


def run(config, workdir):
    splits = registry.load_splits(config.data)
    if config.meta_favae.evaluate:
        check_protocol(config, splits)  # enough classes and images for gen_eval, up front
    model = meta_train(config, workdir, splits)
    result = None
    if config.meta_favae.evaluate:
        result = evaluate_fewshot_generator(model, config, workdir, splits,
                                            name=config.meta_favae.variant)
    if config.export.enabled:
        version = config.export.version
        image_shape = splits[config.meta_favae.train_split].image_shape
        export.export_fewshot_generator(model, image_shape,
                                        export.export_dir(workdir, "fewshot_generator", version))
        export.export_generator(model, export.export_dir(workdir, "generator", version))
    return result
