r"""Lake-style 20-way one-shot runs through an EXPORTED classifier (issue 28): the CLI of
`fewgen_tf.metrics.lake_runs` (the runs: 20 characters of one evaluation alphabet, support
and query drawings by distinct drawers; seeded, since Lake's run files are not in the data).

The answers come from the exported SavedModel's `classify(support_images,
support_labels, query_images)` (each query answered alone), or with
`--signature=classify_task` from the task-level signature (a run's 20 queries together),
the signatures a TF Serving user calls, so the number is the served model's. The model must take `--ways` classes (MAML / Reptile with
`meta.head_init=auto` or `zero` take any N; ProtoNets any N). One JSON line: accuracy
and error rate over the runs with CI95 (over runs), and per alphabet.

  FEWGEN_DATA_DIR=../shared/data python experiments/lake_oneshot_runs.py --workdir=RUN \
      [--export=RUN/export/classifier/VERSION] [--runs=20] [--ways=20] [--shots=1] [--seed=0]
"""

import json
import os
import time

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags():
    """The script's flags, defined only when it runs as a script: importing the module
    beside fewgen_tf.main (its own --workdir) must not define a flag twice."""
    flags.DEFINE_string("workdir", None, "a finished run with export/classifier/VERSION/")
    flags.DEFINE_string("export", None, "the SavedModel directory (default: the newest "
                        "version under WORKDIR/export/classifier)")
    flags.DEFINE_integer("runs", 20, "runs (Lake: 20, one per evaluation alphabet)")
    flags.DEFINE_integer("ways", 20, "characters per run (Lake: 20)")
    flags.DEFINE_integer("shots", 1, "support drawings per character, by distinct drawers")
    flags.DEFINE_integer("seed", 0, "seed of the runs' characters, drawers and labels")
    flags.DEFINE_integer("image_size", 0, "image size (0: the run's data.image_size)")
    flags.DEFINE_enum("signature", "classify", ["classify", "classify_task"],
                      "classify: each query alone; classify_task: a run's queries together")


def saved_model_dir(workdir, export):
    """The SavedModel to answer with: `export`, or WORKDIR's newest classifier version."""
    if export:
        return export
    if not workdir:
        raise app.UsageError("give --workdir=RUN or --export=SAVED_MODEL_DIR")
    parent = os.path.join(workdir, "export", "classifier")
    versions = sorted((int(v) for v in os.listdir(parent) if v.isdigit()),
                      reverse=True) if os.path.isdir(parent) else []
    if not versions:
        raise app.UsageError(f"no exported classifier in {parent}: the run has not "
                             "finished, or it trained no classifier")
    return os.path.join(parent, str(versions[0]))


def main(argv):
    del argv
    from fewgen_tf.metrics import lake_runs

    if FLAGS.ways < 2 or FLAGS.shots < 1 or FLAGS.runs < 1:
        raise app.UsageError("--ways >= 2, --shots >= 1, --runs >= 1")
    if FLAGS.shots + 1 > lake_runs.NUM_DRAWERS:
        raise app.UsageError(f"--shots must be below {lake_runs.NUM_DRAWERS}: a query needs "
                             "its own drawer")
    path = saved_model_dir(FLAGS.workdir, FLAGS.export)
    image_size = FLAGS.image_size
    if not image_size:
        config_path = os.path.join(FLAGS.workdir or "", "config.json")
        if not os.path.isfile(config_path):
            raise app.UsageError("give --image_size (no run config.json to read it from)")
        with open(config_path) as f:
            image_size = json.load(f)["data"]["image_size"]
    import tensorflow as tf

    from fewgen_tf.data import registry
    from fewgen_tf.errors import ConfigError, DataError
    from fewgen_tf.metrics import fewshot

    from fewgen_tf.config import base_config

    data = base_config().data  # the declared defaults; root from $FEWGEN_DATA_DIR
    data.update({"name": "omniglot", "image_size": image_size, "split": "lake"})
    dataset = registry.load_dataset(data)
    try:
        alphabets = lake_runs.evaluation_alphabets(dataset)
        runs = lake_runs.make_runs(dataset, alphabets, FLAGS.runs, FLAGS.ways, FLAGS.shots,
                                   FLAGS.seed)
    except (ConfigError, DataError) as error:
        raise app.UsageError(str(error)) from None
    classify = tf.saved_model.load(path).signatures[FLAGS.signature]
    start = time.time()
    scores = lake_runs.score_runs(classify, runs)
    by_alphabet = scores.pop("by_alphabet")
    line = dict(scores, accuracy=fewshot.format_accuracy(scores), runs=FLAGS.runs,
                ways=FLAGS.ways, shots=FLAGS.shots, seed=FLAGS.seed, signature=FLAGS.signature,
                trials=FLAGS.runs * FLAGS.ways, export=path,
                seconds=round(time.time() - start, 1),
                by_alphabet={a: round(v, 4) for a, v in by_alphabet.items()})
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
