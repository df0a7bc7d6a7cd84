r"""Does a Meta-FAVAE run's `generate` depend on its seeds? (issue 24, "conditioning")

For each finished `meta_favae` run given (`--run=name=WORKDIR`, rebuilt from its own
config.json), on `--classes` fixed characters of `--split` (default `val`: held-out
BACKGROUND characters; the evaluation characters are never needed), with
`meta_favae.task_size` seeds each, every character's images are generated with the SAME
`--seed` (so the same noise z, and for `code_source=prior` the same codes c):

  between / within   the mean |a - b| between two characters' generations of the same
                     noise, over the mean |a - b| between two noise draws of one
                     character: ~1 or below means the output ignores the seeds;
  nearest-seed rate  how often a generation's nearest seed (L1, among the seeds of all
                     the characters) is one of its own character's seeds (chance:
                     1 / classes);
  seed distance      the mean L1 from a generation to its own nearest seed.

Each run is scored as trained and with the other `code_source` (prior: Algorithm 2's
c ~ N(0, I); encoder: c from the adapted encoder of the seeds), since generation's
code source does not change the trained weights. Cheap: no network is trained.

  FEWGEN_DATA_DIR=../shared/data python experiments/meta_favae_conditioning.py \
      --run=paper=PAPER_RUN --run=rec=REC_RUN
"""

import dataclasses
import json

import numpy as np
from absl import app, flags

flags.DEFINE_multi_string("run", [], "name=WORKDIR of a finished meta_favae run")
flags.DEFINE_string("split", "val", "split whose characters give the seeds (never test "
                    "for choosing anything)")
flags.DEFINE_integer("classes", 16, "characters")
flags.DEFINE_integer("images", 8, "generations per character")
flags.DEFINE_integer("seed", 7, "the tasks and the generation seed (shared by all characters)")
FLAGS = flags.FLAGS


def scores(generated, seed_images):
    """generated [C, M, H, W, 1], seed_images [C, S, H, W, 1] -> dict of the scores."""
    classes, count = generated.shape[:2]
    flat = generated.reshape(classes, count, -1)
    same_noise = [np.mean(np.abs(flat[a] - flat[b])) for a in range(classes)
                  for b in range(a + 1, classes)]
    within = [np.mean(np.abs(flat[c, i] - flat[c, j])) for c in range(classes)
              for i in range(count) for j in range(i + 1, count)]
    seeds = seed_images.reshape(classes * seed_images.shape[1], -1)
    owner = np.repeat(np.arange(classes), seed_images.shape[1])
    distances = np.mean(np.abs(flat.reshape(classes * count, 1, -1) - seeds[None]), -1)
    nearest = distances.argmin(1)
    own = owner[nearest] == np.repeat(np.arange(classes), count)
    own_distance = np.where(owner[None] == np.repeat(np.arange(classes), count)[:, None],
                            distances, np.inf).min(1)
    return {"between_over_within": float(np.mean(same_noise) / max(np.mean(within), 1e-9)),
            "nearest_seed_rate": float(own.mean()), "chance": 1.0 / classes,
            "seed_distance": float(own_distance.mean()),
            "mean_ink": float(1.0 - generated.mean()), "seed_ink": float(1.0 - seed_images.mean())}


def main(_):
    from fewgen_tf import workdir as workdir_lib
    from fewgen_tf.data import generation_tasks, registry
    from fewgen_tf.stages.generator import generator_of_run

    for spec in FLAGS.run:
        name, workdir = spec.split("=", 1)
        config = workdir_lib.finished_run_config(workdir, "meta_favae", "Meta-FAVAE")
        splits = registry.load_splits(config.data)
        split = splits[FLAGS.split]
        tasks = generation_tasks.generation_tasks(split, FLAGS.classes, config.meta_favae.task_size,
                                                  1, FLAGS.seed, stream="meta_favae-conditioning")
        seed_images = np.stack([t.seed_images for t in tasks])
        trained = config.meta_favae.code_source
        for source in (trained, "encoder" if trained == "prior" else "prior"):
            model = generator_of_run(workdir, split.image_shape)
            model.settings = dataclasses.replace(model.settings, code_source=source)
            generated = np.stack([model.generate(t.seed_images, FLAGS.images, FLAGS.seed).numpy()
                                  for t in tasks])
            row = {"run": name, "code_source": source, "split": FLAGS.split, **scores(
                generated, seed_images)}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    app.run(main)
