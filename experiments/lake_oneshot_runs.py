r"""Lake-style 20-way one-shot runs through an EXPORTED classifier (issue 28).

Lake et al. (2015) score one-shot classification on 20 runs built from the evaluation
alphabets: in each run, 20 characters of ONE alphabet, one drawing of each by one drawer
as the support set and one drawing of each by another drawer as the 20 queries; the
score is the error rate over the 400 trials. Their run files are not in ../shared/data,
so this script builds runs by the same rule from the evaluation set (official ids
965..1623 and alphabets.tsv): run r takes evaluation alphabet r mod 20, `--ways`
characters of it and two distinct drawers at random (seeded), and shuffles the labels.
Within-alphabet runs are harder than the usual N-way tasks over all 659 characters:
the classes look alike.

The answers come from the exported SavedModel's `classify(support_images,
support_labels, query_images)`, the signature a TF Serving user calls, so the number is
the served model's. The model must take `--ways` classes (MAML / Reptile with
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
    """The script's flags, defined only when it runs as a script: importing the module (its
    tests do, beside fewgen_tf.main's own --workdir) must not define a flag twice."""
    flags.DEFINE_string("workdir", None, "a finished run with export/classifier/VERSION/")
    flags.DEFINE_string("export", None, "the SavedModel directory (default: the newest "
                        "version under WORKDIR/export/classifier)")
    flags.DEFINE_integer("runs", 20, "runs (Lake: 20, one per evaluation alphabet)")
    flags.DEFINE_integer("ways", 20, "characters per run (Lake: 20)")
    flags.DEFINE_integer("shots", 1, "support drawings per character, by distinct drawers")
    flags.DEFINE_integer("seed", 0, "seed of the runs' characters, drawers and labels")
    flags.DEFINE_integer("image_size", 0, "image size (0: the run's data.image_size)")


NUM_DRAWERS = 20


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


def evaluation_alphabets(dataset):
    """{alphabet: [class index, ...]} of the evaluation characters, alphabet names from
    the dataset's class names ('Alphabet/characterNN', from alphabets.tsv)."""
    from fewgen_tf.data import omniglot

    alphabets = {}
    for index, (key, name) in enumerate(zip(dataset.class_keys, dataset.class_names)):
        if omniglot.is_background(key):
            continue
        if "/" not in name:
            raise app.UsageError("the Omniglot data has no alphabets.tsv beside it: "
                                 "runs need the characters' alphabets")
        alphabets.setdefault(name.split("/")[0], []).append(index)
    return dict(sorted(alphabets.items()))


def make_runs(dataset, alphabets, runs, ways, shots, seed):
    """[(alphabet, support [W*S, H, W, C], support labels, queries [W, ...], query labels)]:
    run r draws from alphabet r mod len(alphabets); drawers distinct within a run."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = list(alphabets)
    first_image = np.searchsorted(dataset.labels, np.arange(dataset.num_classes))
    made = []
    for run in range(runs):
        alphabet = names[run % len(names)]
        members = alphabets[alphabet]
        if len(members) < ways:
            raise app.UsageError(f"alphabet {alphabet} has {len(members)} characters, "
                                 f"fewer than --ways={ways}")
        characters = rng.choice(members, ways, replace=False)
        drawers = rng.choice(NUM_DRAWERS, shots + 1, replace=False)
        labels = rng.permutation(ways).astype(np.int32)
        support = [first_image[c] + d for d in drawers[:shots] for c in characters]
        queries = [first_image[c] + drawers[shots] for c in characters]
        made.append((alphabet, dataset.images[support], np.tile(labels, shots),
                     dataset.images[queries], labels))
    return made


def main(argv):
    del argv
    if FLAGS.ways < 2 or FLAGS.shots < 1 or FLAGS.runs < 1:
        raise app.UsageError("--ways >= 2, --shots >= 1, --runs >= 1")
    if FLAGS.shots + 1 > NUM_DRAWERS:
        raise app.UsageError(f"--shots must be below {NUM_DRAWERS}: a query needs its own drawer")
    path = saved_model_dir(FLAGS.workdir, FLAGS.export)
    image_size = FLAGS.image_size
    if not image_size:
        config_path = os.path.join(FLAGS.workdir or "", "config.json")
        if not os.path.isfile(config_path):
            raise app.UsageError("give --image_size (no run config.json to read it from)")
        with open(config_path) as f:
            image_size = json.load(f)["data"]["image_size"]
    import ml_collections
    import numpy as np
    import tensorflow as tf

    from fewgen_tf.data import registry
    from fewgen_tf.metrics import fewshot

    data = ml_collections.ConfigDict({"name": "omniglot", "image_size": image_size,
                                      "root": os.environ.get("FEWGEN_DATA_DIR", ""),
                                      "format": "auto"})
    dataset = registry.load_dataset(data)
    alphabets = evaluation_alphabets(dataset)
    runs = make_runs(dataset, alphabets, FLAGS.runs, FLAGS.ways, FLAGS.shots, FLAGS.seed)
    classify = tf.saved_model.load(path).signatures["classify"]
    start = time.time()
    accuracies, by_alphabet = [], {}
    for alphabet, support, support_labels, queries, query_labels in runs:
        answer = classify(support_images=tf.constant(support),
                          support_labels=tf.constant(support_labels),
                          query_images=tf.constant(queries))
        accuracy = float(np.mean(answer["predictions"].numpy() == query_labels))
        accuracies.append(accuracy)
        by_alphabet.setdefault(alphabet, []).append(accuracy)
    summary = fewshot.accuracy_summary(accuracies)
    line = dict(summary, error_rate=1.0 - summary["mean"], accuracy=fewshot.format_accuracy(summary),
                runs=FLAGS.runs, ways=FLAGS.ways, shots=FLAGS.shots, seed=FLAGS.seed,
                trials=FLAGS.runs * FLAGS.ways, export=path,
                seconds=round(time.time() - start, 1),
                by_alphabet={a: round(float(np.mean(v)), 4) for a, v in by_alphabet.items()})
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
