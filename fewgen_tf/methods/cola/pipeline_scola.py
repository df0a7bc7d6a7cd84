"""Pipeline `scola` (sCOLA, paper section 3.2): COLA's steps II and III with the labels
in place of step I (t_i = one-hot(y_i); stages.py `train_scola`), on `cola.train_split`.

Writes samples/clusters.png (a row per class), gen_eval.json (CAS against the real
evaluation images, a Frechet distance on `gen_eval.features`), the wall time of the
steps (metrics.jsonl, phase "cola_timing") and export/generator/V (decode, sample,
sample_class). Resumes from checkpoints/generator/.
"""

import time

from absl import logging

from fewgen_tf import export
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.methods.cola import stages


def run(config, workdir):
    stages.check_config(config)
    c = config.cola
    train = stages.training_split(config, labelled_by="sCOLA")
    start = time.perf_counter()
    model = stages.train_scola(config, workdir, train.images, train.labels, train.num_classes)
    timing = {"step2_3_seconds": time.perf_counter() - start}
    logging.info("wrote %s", stages.save_cluster_grid(workdir, model, int(c.sample_images),
                                                     int(config.gen_eval.seed)))
    start = time.perf_counter()
    identity = {k: k for k in range(train.num_classes)}
    result = stages.evaluate_class_generator(config, workdir, model, identity, train, "scola")
    timing["eval_seconds"] = time.perf_counter() - start
    workdir_lib.append_metrics(workdir, dict(timing, phase="cola_timing"))
    logging.info("scola: %s; times %s", result["metrics"], timing)
    if config.export.enabled:
        export.export_generator(model, export.export_dir(workdir, "generator",
                                                         config.export.version))
    return dict(result, timing=timing)
