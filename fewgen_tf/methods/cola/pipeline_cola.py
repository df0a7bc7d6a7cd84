"""Pipeline `cola` (COLA, paper section 3.1; the GLO baseline with
`cola.class_codes = "random"`), unsupervised: labels are read only to score.

  I.   cluster the images of `cola.train_split` (Algorithm 2; stages.py `cluster_images`):
       clustering accuracy and NMI to metrics.jsonl (phase "cola_clustering_eval");
       GLO skips it and gives every code a random class part;
  II.  the generator with one learnable code per image (Algorithm 1), the codes' class
       parts = the step-I targets;
  III. a Gaussian per cluster of the codes (GLO: an EM mixture of K components);
  then samples/clusters.png (a row per cluster), gen_eval.json (CAS against the real
  evaluation images with clusters mapped to classes by the clustering-accuracy matching,
  and a Frechet distance on `gen_eval.features`), wall time of each step (metrics.jsonl,
  phase "cola_timing"), and export/generator/V (decode, sample, sample_class).
Every step resumes from its checkpoints in the workdir.
"""

import time

import numpy as np
from absl import logging

from fewgen_tf import export
from fewgen_tf import workdir as workdir_lib
from fewgen_tf.methods.cola import stages


def run(config, workdir):
    stages.check_config(config)
    c = config.cola
    train = stages.training_split(config)
    images, labels = train.images, np.asarray(train.labels)
    model, clusters, scores, timing = stages.train_cola(config, workdir, images, labels)
    if scores:
        workdir_lib.append_metrics_once(workdir, dict(scores, phase="cola_clustering_eval"))
        logging.info("COLA step I: %s", scores)
    logging.info("wrote %s", stages.save_cluster_grid(workdir, model, int(c.sample_images),
                                                     int(config.gen_eval.seed)))
    start = time.perf_counter()
    name = "cola" if c.class_codes == "clusters" else "glo"
    result = stages.evaluate_class_generator(
        config, workdir, model, stages.cluster_to_class(labels, clusters, c.num_clusters),
        train, name, extra={"clustering": scores} if scores else None)
    timing["eval_seconds"] = time.perf_counter() - start
    workdir_lib.append_metrics(workdir, dict(timing, phase="cola_timing"))
    logging.info("%s: %s; times %s", name, result["metrics"], timing)
    if config.export.enabled:
        export.export_generator(model, export.export_dir(workdir, "generator",
                                                         config.export.version))
    return dict(result, timing=timing)
