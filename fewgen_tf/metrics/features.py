"""`make_feature_extractor(config.gen_eval, dataset)`: the feature extractor named by
`gen_eval.features` (a feature extractor is anything with `name: str` and
`features(images) -> [n, d]`)."""

from fewgen_tf import config as config_lib
from fewgen_tf.errors import ConfigError
from fewgen_tf.metrics.evaluation_network import evaluation_network
from fewgen_tf.metrics.inception import InceptionFeatures


FEATURE_EXTRACTORS = config_lib.GEN_EVAL_FEATURES  # ("evaluation_network", "inception")


def make_feature_extractor(gen_eval_config, dataset=None):
    """The feature extractor named by `gen_eval.features`:
    "evaluation_network" -> `evaluation_network(dataset, gen_eval.feature_cache,
        gen_eval.evaluation_network_steps, gen_eval.evaluation_network_seed or 0)`
        (the seed is fixed apart from `gen_eval.seed`, so changing the evaluation tasks
        does not change the yardstick);
    "inception" -> `InceptionFeatures(gen_eval.inception_path)`."""
    kind = gen_eval_config.features
    if kind == "evaluation_network":
        if dataset is None:
            raise ConfigError("gen_eval.features=evaluation_network needs the dataset whose "
                              "classes it learns")
        return evaluation_network(dataset, gen_eval_config.feature_cache,
                                  gen_eval_config.evaluation_network_steps,
                                  seed=int(gen_eval_config.evaluation_network_seed))
    if kind == "inception":
        return InceptionFeatures(gen_eval_config.inception_path)
    raise ConfigError(f"unknown gen_eval.features {kind!r}; valid: "
                      f"{', '.join(FEATURE_EXTRACTORS)}")
