r"""COLA step I (Algorithm 2) alone, for its epoch curve and ablations: trains only the
clustering of a COLA config's training split (resumable in WORKDIR, as in the pipeline)
and, the labels used only to score, logs the matching's and the encoder's clustering
accuracy / NMI after every epoch (metrics.jsonl, phase cola_clustering_scores), then
prints the curve as a markdown table:

  FEWGEN_DATA_DIR=../shared/data python experiments/cola_clustering_curve.py \
      --config=configs/cola_mnist.py:cola --config.cola.cluster_epochs=40 \
      --config.cola.rotnet=False --workdir=DIR

Every `--config.cola.*` override of the pipeline works here (rotnet, refine_epoch,
refine_method, assignment_loss, target_variance, views, cluster_lr, ...).
"""

import json

import numpy as np
from absl import app, flags, logging
from ml_collections import config_flags

from fewgen_tf import workdir as workdir_lib
from fewgen_tf.methods.cola import stages

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "a COLA config, FILE.py[:VARIANT]")
flags.DEFINE_string("workdir", None, "where step I's checkpoints and metrics go")
flags.DEFINE_integer("every", 1, "print every N-th epoch of the curve (and the last)")
flags.mark_flags_as_required(["config", "workdir"])
COLUMNS = ("clustering_accuracy", "nmi", "encoder_accuracy", "encoder_nmi")


def curve(workdir):
    """The per-epoch scores of `workdir` (later records of a resumed run win)."""
    by_epoch = {r["epoch"]: r for r in workdir_lib.read_metrics(workdir)
                if r.get("phase") == "cola_clustering_scores"}
    return [by_epoch[e] for e in sorted(by_epoch)]


def main(argv):
    del argv
    logging.set_verbosity(logging.INFO)
    config = FLAGS.config
    stages.check_config(config)
    train = stages.training_split(config)
    labels = np.asarray(train.labels)
    model, timing = stages.cluster_images(config, FLAGS.workdir, train.images, labels)
    final = stages.clustering_scores(model, labels, train.images)
    records = curve(FLAGS.workdir)
    print("| epoch | matching accuracy | matching NMI | encoder accuracy | encoder NMI |")
    print("| --- | --- | --- | --- | --- |")
    for i, record in enumerate(records, 1):
        if i % FLAGS.every == 0 or i == len(records):
            print(f"| {record['epoch']} | " + " | ".join(f"{record[c]:.3f}" for c in COLUMNS)
                  + " |")
    print(json.dumps(dict(final, **{k: round(v, 3) for k, v in timing.items()})))


if __name__ == "__main__":
    app.run(main)
