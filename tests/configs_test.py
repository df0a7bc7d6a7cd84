"""Every config file and variant resolves, and names only known pipelines, datasets,
algorithms, generators and strategies."""


import pytest

from conftest import all_configs as _all_configs, config_module as _module
from fewgen_tf import pipelines
from fewgen_tf.data import registry
from fewgen_tf.generators.registry import GENERATORS
from fewgen_tf.methods.lasium.strategies import STRATEGIES
from fewgen_tf.meta.factory import ALGORITHMS
from fewgen_tf.pipelines import PIPELINES


def test_every_config_names_known_parts():
    seen = 0
    for name, config in _all_configs():
        seen += 1
        assert config.pipeline in PIPELINES, name
        assert config.data.name in registry.DATASETS, name
        assert config.data.split in registry.DATASETS[config.data.name][1], name
        if "meta" in config:
            assert config.meta.algorithm in ALGORITHMS, name
        if "lasium" in config:
            assert config.generator.name in GENERATORS, name
            assert config.lasium.strategy in STRATEGIES, name
    assert seen >= 12 + 5 + 5


def test_every_config_passes_the_checks_of_a_run():
    """What `pipelines.run` checks first refuses none of the shipped configs (the COLA
    task source of LASIUM needs the workdir of its trained COLA, as its doc says)."""
    for name, config in _all_configs():
        if config.get("generator", {}).get("name") == "cola" and config.pipeline == "lasium":
            config.generator.from_workdir = "workdirs/cola_omniglot"
        pipelines.check_config(config)


def test_lasium_omniglot_variants_follow_the_paper():
    module = _module("lasium_omniglot")
    assert len(module.VARIANTS) == 21
    config = module.get_config("gan_maml_oc")
    assert config.generator.name == "msgan" and config.generator.latent_dim == 128
    assert config.meta.algorithm == "maml" and config.lasium.strategy == "oc"
    assert (config.meta.inner_lr, config.meta.inner_steps, config.meta.meta_batch_size) == \
        (0.4, 5, 4)
    assert config.eval.inner_steps == 50 and config.eval.queries == 15
    vae = module.get_config("vae_protonets_n")
    assert vae.generator.latent_dim == 20 and vae.lasium.variance == 0.5
    aug = module.get_config("aug_maml_n")
    assert aug.generator.name == "augintae" and aug.generator.latent_dim == 32
    assert aug.lasium.variance == 0.5 / 32 and aug.augintae.variant == "augintae"
    cola = module.get_config("cola_maml_cluster")
    assert cola.pipeline == "lasium" and cola.lasium.strategy == "cluster"
    assert cola.generator.name == "cola" and cola.cola.num_clusters == 200
    assert _module("cola_omniglot").get_config().cola.num_clusters == cola.cola.num_clusters
    from fewgen_tf.methods.cola import model as cola_lib
    k1200 = _module("cola_omniglot").get_config("cola_k1200")  # the paper's K rule
    assert k1200.cola.num_clusters == 1200 and k1200.cola.mixture_rank == 32
    assert cola_lib.mixture_bytes(1200, 1200 + k1200.generator.latent_dim,
                                  k1200.cola.mixture_rank) <= cola_lib.MAX_MIXTURE_BYTES
    best = module.get_config("best")  # COLA trained inline, K = the training characters
    assert best.generator.name == "cola" and not best.generator.from_workdir
    assert best.lasium.strategy == "cluster" and best.cola.num_clusters == 0
    assert best.cola.refine_method == "balanced" and best.generator.epochs == 30
    assert best.meta.algorithm == "protonets" and best.meta.iterations == 6000
    assert best.train.ways == 20 and best.eval.ways == 5  # 20-way training, 5-way tests
    assert best.meta.transductive_steps == 3
    with pytest.raises(ValueError, match="unknown variant"):
        module.get_config("vae_maml_x")


def test_unknown_algorithm_generator_backbone_and_init_list_the_valid_names():
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.errors import ConfigError
    from fewgen_tf.generators import registry

    with pytest.raises(ConfigError, match="unknown generator.name 'gan'; valid: augintae, bigbigan, "
                                          "cola, meta_favae, msgan, progan, vae"):
        registry.entry("gan")
    for key, value, valid in (("algorithm", "mamll", "maml, fomaml"),
                              ("backbone", "resnet", "conv4, conv4_ceil, strided4"),
                              ("init", "xavier", "torch, keras")):
        config = add_meta_learning(base_config(), "maml")
        config.meta[key] = value
        with pytest.raises(ConfigError, match=f"unknown meta.{key} '{value}'; valid: {valid}"):
            pipelines.check_config(config)


def test_meta_favae_omniglot_defaults_are_the_faithful_recipe_and_the_paper_stays_a_variant():
    module = _module("meta_favae_omniglot")
    recipe, paper = module.get_config("favae"), module.get_config("favae_paper")
    m = recipe.meta_favae
    assert (m.beta, m.generator_reconstruction, m.code_source, m.fit_steps) == (
        1.0, 50.0, "encoder", 200)
    assert (m.outer_vae_lr, m.outer_gan_lr) == (1e-4, 1e-3)
    assert recipe.generator.iterations == 500 and paper.generator.iterations == 100000
    p = paper.meta_favae
    assert (p.beta, p.generator_reconstruction, p.code_source, p.fit_steps) == (
        10.0, 0.0, "prior", 0)
    assert (p.outer_vae_lr, p.outer_gan_lr, p.rounds) == (1e-5, 1e-4, 10)
    assert module.get_config("avae").meta_favae.fit_steps == 200
    assert module.get_config("figr").meta_favae.fit_steps == 0  # (no VAE: the paper's)
