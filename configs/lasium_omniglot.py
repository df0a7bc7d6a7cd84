"""LASIUM on Omniglot (paper Tables 1 and 7; REFERENCE_NOTES.md for hyperparameters).

Variants `{gan,vae}_{maml,protonets}_{n,ro,oc}`, e.g. `vae_maml_n` (the default):
  gan   MSGAN, latent 128, Adam 3e-4, batch 128, mode-seeking weight 1;
  vae   VAE, latent 20, Adam 1e-3, batch 128; anchors are encodings of real images and
        each real image is its class's support sample;
  n     sigma^2 = 0.5;  ro / oc  alpha = 0.2 (Table 7's ablation settings);
  meta  5-way, K(tr) = 1, K(val) = 5, meta-batch 4; MAML inner lr 0.4, 5 steps, Adam 1e-3,
        1000 meta-iterations (Table 7); evaluation 1000 test tasks, 15 queries, 50 steps.
Generated queries are shifted by up to +-5 px, as in the reference code.
data.root (or FEWGEN_DATA_DIR) must hold omniglot/.
"""

import itertools

from fewgen_tf.config import add_lasium, add_meta_learning, base_config

VARIANTS = tuple("_".join(v) for v in itertools.product(("gan", "vae"), ("maml", "protonets"),
                                                          ("n", "ro", "oc")))


def get_config(variant="vae_maml_n"):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    generator, algorithm, strategy = variant.split("_")
    generator = "msgan" if generator == "gan" else generator
    config = add_lasium(add_meta_learning(base_config(), algorithm), generator, strategy)
    config.pipeline = "lasium"
    config.data.name = "omniglot"
    config.data.split = "lasium"
    config.data.image_size = 28
    config.generator.epochs = 500 if generator == "msgan" else 100
    config.lasium.translate = 5
    config.lasium.variance = 0.5
    config.lasium.alpha = 0.2
    config.meta.iterations = 1000
    config.train.shots = 1
    config.train.queries = 5
    config.train.steps_per_epoch = 250
    return config
