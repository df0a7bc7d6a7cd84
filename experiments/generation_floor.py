r"""The floor of few-shot generation: the protocol's metrics for the two reference
generators (copy the seeds, pixel-blend two seeds) and the evaluation network's own
held-out accuracy, on Omniglot (lake split: the 659 evaluation characters are the
novel classes) and MNIST (3 of the 10 digits novel). Prints one JSON line a dataset.

  FEWGEN_DATA_DIR=../shared/data python experiments/generation_floor.py --dataset=omniglot
  python experiments/generation_floor.py --dataset=mnist --feature_cache=/tmp/evalnets
"""

import json
import tempfile
import time

from absl import app, flags

flags.DEFINE_enum("dataset", "omniglot", ["omniglot", "mnist"], "dataset")
flags.DEFINE_string("feature_cache", "", "evaluation-network cache (default: gen_eval's)")
flags.DEFINE_integer("evaluation_network_steps", 2000, "evaluation network training steps")
flags.DEFINE_integer("classifier_steps", 500, "CAS / Mix / domain classifier steps")
flags.DEFINE_integer("num_classes", 20, "novel classes (MNIST: at most 3)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from fewgen_tf.config import add_generation_eval, base_config
    from fewgen_tf.data import registry
    from fewgen_tf.generators.reference import CopySeeds
    from fewgen_tf.stages import generation_eval

    config = add_generation_eval(base_config())
    config.data.name = FLAGS.dataset
    if FLAGS.dataset == "omniglot":
        config.data.split = "lake"
        config.gen_eval.num_classes = FLAGS.num_classes
    else:
        config.data.subset = "test"
        config.data.split = "random"
        config.data.split_sizes = (6, 1, 3)
        config.gen_eval.num_classes = min(FLAGS.num_classes, 3)
    if FLAGS.feature_cache:
        config.gen_eval.feature_cache = FLAGS.feature_cache
    config.gen_eval.evaluation_network_steps = FLAGS.evaluation_network_steps
    config.gen_eval.classifier_steps = FLAGS.classifier_steps
    start = time.time()
    splits = registry.load_splits(config.data)
    with tempfile.TemporaryDirectory() as workdir:
        result = generation_eval.evaluate_fewshot_generator(CopySeeds(), config, workdir,
                                                            splits, name="copy_seeds")
    result["references"]["copy_seeds"] = result.pop("metrics")
    result["wall_s"] = round(time.time() - start, 1)
    result["dataset"] = FLAGS.dataset
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
