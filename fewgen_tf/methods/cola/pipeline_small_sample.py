"""Pipeline `small_sample` (COLA section 6): classification from a very small labelled
sample, with and without the images of an sCOLA trained on that sample alone.

For every size spc in `small_sample.spc` and draw d in range(`small_sample.draws`):
  1. draw spc images of every class of `cola.train_split` (`data.class_subsample`: draw d of
     `small_sample.seed`; fixed on every machine, nested across sizes);
  2. train sCOLA on them (`stages.train_scola`, `generator.*` / `cola.*`) in the
     sub-workdir `spc{spc}/draw{d}/` (resumable from its checkpoints), and generate
     `small_sample.synthetic_per_class` images of every class (`sample_class`);
  3. train the same classifier (`section6_classifier.py`: ResNet-20 by default) the
     `small_sample.modes` ways, real / synthetic / mix, for the same
     `classifier_steps`, from the same initial weights, and test each on all the real
     images of `small_sample.test_subset` (MNIST: the 10k test digits).
sCOLA, generation and classifiers of draw d use the seed `seed + d`.

A finished (spc, draw) is a line of metrics.jsonl (phase "small_sample") and is not
redone when the run is repeated in the same workdir; `small_sample_settings.json` holds
the settings those lines were measured under, and a rerun under other settings is
refused. After every finished draw the pipeline rewrites small_sample.json: per spc and
mode the mean and (population) std over the finished draws, every draw's accuracies and
wall times, and the protocol; samples/spc{spc}_real_vs_synthetic.png shows draw 0 (a row
per class: the real images, a gap, then sCOLA's).
"""

import json
import os
import time

import numpy as np
from absl import logging

from fewgen_tf import visualize
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.data.class_subsample import draw_indices, draw_small_sample
from fewgen_tf.errors import ConfigError
from fewgen_tf.methods.cola import config as cola_config
from fewgen_tf.methods.cola import section6_classifier as recipe
from fewgen_tf.methods.cola import stages

PHASE = "small_sample"
SETTINGS_FILE = "small_sample_settings.json"
RESULT_FILE = "small_sample.json"
# Keys that do not change what a finished draw measured: which sizes / draws to run,
# pictures, paths, and parts of the config the pipeline does not read.
_NOT_DEFINING = ("small_sample.spc", "small_sample.draws", "small_sample.grid_images",
                 "data.root", "export.", "gen_eval.", "distribute", "cpu_devices",
                 "cola.eval_subset", "cola.sample_images", "cola.eval_images_per_class")


def check_config(config):
    """(sorted sizes, modes) of a config `cola_config.check_small_sample` accepts (it
    raises ConfigError otherwise; pipelines.check_config ran it before this run)."""
    cola_config.check_small_sample(config)
    s = config.small_sample
    spc = tuple(s.spc) if isinstance(s.spc, (tuple, list)) else (s.spc,)
    return sorted(set(spc)), tuple(s.modes)


# ------------------------------------------------------------------ resumable records
def _flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _settings(config):
    flat = _flatten(json.loads(config.to_json_best_effort()))
    return {k: v for k, v in flat.items()
            if not any(k == p or (p.endswith(".") and k.startswith(p)) for p in _NOT_DEFINING)}


def check_settings(config, workdir):
    """Write the settings the draws are measured under, or refuse (ConfigError) a
    workdir whose finished draws were measured under others, naming the keys."""
    path = os.path.join(workdir, SETTINGS_FILE)
    settings = _settings(config)
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        differ = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if differ:
            shown = "; ".join(f"{k}: {old.get(k)!r} there, {settings.get(k)!r} now"
                              for k in differ[:6])
            more = f" (and {len(differ) - 6} more)" if len(differ) > 6 else ""
            raise ConfigError(f"workdir {workdir} holds small-sample results of other settings "
                              f"({shown}{more}); use a new --workdir")
        return
    os.makedirs(workdir, exist_ok=True)
    workdir_lib.commit_config(workdir)  # a settings file: the run's config.json first
    workdir_lib.write_json(path, settings, indent=2, sort_keys=True, default=str)


def finished_runs(workdir):
    """{(spc, draw): record} of the draws metrics.jsonl says are finished."""
    return {(r["spc"], r["draw"]): r for r in workdir_lib.read_metrics(workdir)
            if r.get("phase") == PHASE}


# ----------------------------------------------------------------------- one draw
def real_vs_synthetic_grid(workdir, spc, real, synthetic, count):
    """samples/spc{spc}_real_vs_synthetic.png: a row per class, `count` real images
    (padded), a blank, `count` synthetic ones."""
    blank = np.full(real.images.shape[1:], visualize.BORDER_VALUE, np.float32)
    rows = []
    for c in range(real.num_classes):
        shown = list(real.class_images(c)[:count])
        shown += [blank] * (count - len(shown)) + [blank]
        rows.append(shown + list(synthetic[c][:count]))
    return workdir_lib.save_png(workdir, f"spc{spc}_real_vs_synthetic.png", visualize.tile(rows))


def run_draw(config, workdir, train, test_images, test_labels, spc, draw, modes):
    """Train sCOLA on draw `draw` of size `spc`, then the classifiers: the draw's record."""
    s = config.small_sample
    seed = int(config.seed) + draw
    sample = draw_small_sample(train, spc, draw, int(s.seed))
    subdir = os.path.join(workdir, f"spc{spc}", f"draw{draw}")
    draw_config = config.copy_and_resolve_references()
    draw_config.seed = seed
    record = {"phase": PHASE, "spc": spc, "draw": draw, "seed": seed,
              "train_images": int(len(sample.images)), "accuracy": {}, "seconds": {}}
    synthetic_images = synthetic_labels = None
    if set(modes) & {"synthetic", "mix"}:
        record["scola_resumed"] = os.path.isdir(os.path.join(subdir, "checkpoints"))
        start = time.perf_counter()
        model = stages.train_scola(draw_config, subdir, sample.images, sample.labels,
                                  train.num_classes)
        record["seconds"]["scola"] = time.perf_counter() - start
        start = time.perf_counter()
        per_class = int(s.synthetic_per_class)
        synthetic_images = np.clip(stages.generate_per_cluster(
            model, range(train.num_classes), per_class, seed), 0.0, 1.0).astype(np.float32)
        synthetic_labels = np.repeat(np.arange(train.num_classes), per_class)
        record["seconds"]["generate"] = time.perf_counter() - start
        record["synthetic_images"] = int(len(synthetic_images))
        if draw == 0:
            by_class = synthetic_images.reshape(train.num_classes, per_class,
                                                *synthetic_images.shape[1:])
            logging.info("wrote %s", real_vs_synthetic_grid(workdir, spc, sample, by_class,
                                                            int(s.grid_images)))
        logging.info("small_sample spc=%d draw=%d: sCOLA %.1f s (%s)", spc, draw,
                     record["seconds"]["scola"],
                     "resumed" if record["scola_resumed"] else "trained")
    options = dict(batch_size=int(s.batch_size), learning_rate=float(s.learning_rate),
                   weight_decay=float(s.weight_decay), lr_halvings=int(s.lr_halvings),
                   augmentation=s.augmentation, backbone=s.backbone, filters=int(s.filters),
                   calibration_size=int(s.calibration_size))
    for mode in modes:
        start = time.perf_counter()
        accuracy = recipe.train_small_sample_classifier(
            sample.images, sample.labels, synthetic_images, synthetic_labels, mode,
            int(s.classifier_steps), seed, test_images=test_images, test_labels=test_labels,
            num_classes=train.num_classes, **options)
        record["accuracy"][mode] = float(accuracy)
        record["seconds"][mode] = time.perf_counter() - start
        logging.info("small_sample spc=%d draw=%d %s: accuracy %.4f (%.1f s)", spc, draw, mode,
                     accuracy, record["seconds"][mode])
    return record


# ------------------------------------------------------------------------ summary
def write_summary(config, workdir, runs, sizes, modes, train, test_images, test_name):
    s = config.small_sample
    chosen = [runs[key] for key in sorted(runs)
              if key[0] in sizes and key[1] < int(s.draws)]
    results = {}
    for spc in sizes:
        done = [r for r in chosen if r["spc"] == spc]
        if done:
            results[str(spc)] = {m: recipe.summarize([r["accuracy"][m] for r in done])
                                 for m in modes}
    summary = {
        "results": results,
        "runs": [{k: r[k] for k in r if k not in ("phase", "time")} for r in chosen],
        "complete": len(chosen) == len(sizes) * int(s.draws),
        "protocol": {"dataset": train.name, "train_split": config.cola.train_split,
                     "train_class_sizes": [int(n) for n in train.class_sizes],
                     "test_subset": s.test_subset or "training split", "test_dataset": test_name,
                     "test_images": int(len(test_images)), "num_classes": train.num_classes,
                     "spc": list(sizes), "draws": int(s.draws), "draw_seed": int(s.seed),
                     "modes": list(modes), "synthetic_per_class": int(s.synthetic_per_class),
                     "classifier": {k: s[k] for k in (
                         "backbone", "filters", "classifier_steps", "batch_size",
                         "learning_rate", "lr_halvings", "weight_decay", "augmentation",
                         "calibration_size")},
                     "scola": {"epochs": int(config.generator.epochs),
                               "steps_per_epoch": int(config.cola.steps_per_epoch),
                               "latent_dim": int(config.generator.latent_dim),
                               "batch_size": int(config.generator.batch_size),
                               "architecture": config.cola.architecture,
                               "loss": config.cola.loss}},
    }
    path = os.path.join(workdir, RESULT_FILE)
    workdir_lib.commit_config(workdir)  # a result: the run's config.json first
    workdir_lib.write_json(path, summary, indent=2, sort_keys=True, default=float)
    return summary


def run(config, workdir):
    sizes, modes = check_config(config)
    s = config.small_sample
    train = stages.training_split(config, labelled_by="small_sample")
    draw_indices(train, max(sizes), 0, int(s.seed))  # spc too large: a DataError, up front
    test_images, test_labels, dataset = stages.evaluation_data(config, train, s.test_subset)
    check_settings(config, workdir)
    runs = finished_runs(workdir)
    total = len(sizes) * int(s.draws)

    def finished():
        return sum(1 for k in runs if k[0] in sizes and k[1] < int(s.draws))

    logging.info("small_sample: %d sizes x %d draws on %s (%d classes), %d test images of %s; "
                 "%d already finished", len(sizes), s.draws, train.name, train.num_classes,
                 len(test_images), dataset.name, finished())
    summary = write_summary(config, workdir, runs, sizes, modes, train, test_images,
                            dataset.name)
    for spc in sizes:
        for draw in range(int(s.draws)):
            if (spc, draw) in runs:
                logging.info("small_sample spc=%d draw=%d: finished earlier, skipped", spc, draw)
                continue
            record = run_draw(config, workdir, train, test_images, test_labels, spc, draw,
                              modes)
            workdir_lib.append_metrics(workdir, record)
            runs[(spc, draw)] = record
            summary = write_summary(config, workdir, runs, sizes, modes, train, test_images,
                                    dataset.name)
            logging.info("small_sample: %d / %d draws finished; spc=%d so far %s", finished(),
                         total, spc, summary["results"][str(spc)])
    return summary
