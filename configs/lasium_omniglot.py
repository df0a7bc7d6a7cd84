"""LASIUM on Omniglot (paper Tables 1 and 7; hyperparameters of paper section 7 and the
authors' TF2 code, which also gives the GAN's and VAE's optimisers below).

Variants `{gan,vae,aug}_{maml,protonets}_{n,ro,oc}`, e.g. `vae_maml_n` (the default):
  gan   MSGAN, latent 128, Adam 3e-4, batch 128, mode-seeking weight 1;
  vae   VAE, latent 20, Adam 1e-3, batch 128; anchors are encodings of real images and
        each real image is its class's support sample;
  aug   AugIntAE (not in the paper: configs/augintae_omniglot.py's model, latent 32 on
        the unit sphere, 10 passes here), real-image anchors as the VAE; its latents are
        unit vectors, so N's sigma^2 is scaled to the sphere (0.5 / latent_dim: the same
        noise-to-code ratio as sigma^2 0.5 on a unit-variance code per dimension);
  n     sigma^2 = 0.5;  ro / oc  alpha = 0.2 (Table 7's ablation settings);
Variant `best` (issue 28): COLA trained inline (K = the training characters' count,
  cola_2h's balanced step I), then `cola_protonets_cluster` for 6000 iterations on 20-way
  tasks of its clusters; at test time the prototypes are refined by the task's queries
  (3 soft k-means steps: TRANSDUCTIVE): best_config below.
Variants `cola_{maml,protonets}_cluster` (not in any paper): a COLA trained by
  configs/cola_omniglot.py (give its workdir: --config.generator.from_workdir=DIR; its
  generator keys, K = 200 and d = 64, must match) is the task source, N distinct clusters
  are the N classes and their images are draws from each cluster's fitted Gaussian;
  meta  5-way, K(tr) = 1, K(val) = 5, meta-batch 4; MAML inner lr 0.4, 5 steps, Adam 1e-3,
        1000 meta-iterations (Table 7); evaluation 1000 test tasks, 15 queries, 50 steps.
Generated queries are shifted by up to +-5 px, as in the reference code.
data.root (or FEWGEN_DATA_DIR) must hold omniglot/.
"""

import itertools

from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.methods.augintae.config import add_augintae
from fewgen_tf.methods.cola.config import add_cola, use_balanced_clustering
from fewgen_tf.methods.lasium.config import add_lasium

GENERATORS = {"gan": "msgan", "vae": "vae", "aug": "augintae", "cola": "cola"}
COLA_CLUSTERS = 200  # configs/cola_omniglot.py's K
VARIANTS = tuple("_".join(v) for v in itertools.product(("gan", "vae", "aug"),
                                                          ("maml", "protonets"),
                                                          ("n", "ro", "oc"))) + (
    "cola_maml_cluster", "cola_protonets_cluster", "best")


def get_config(variant="vae_maml_n"):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    if variant == "best":
        return best_config()
    generator, algorithm, strategy = variant.split("_")
    generator = GENERATORS[generator]
    config = add_lasium(add_meta_learning(base_config(), algorithm), generator, strategy)
    if generator == "augintae":
        add_augintae(config)  # its generator.* defaults and augintae.* / augment.* keys
    if generator == "cola":  # trained in stages by its own pipeline: from_workdir only
        add_cola(config, "cola", num_clusters=COLA_CLUSTERS)
    config.pipeline = "lasium"
    config.data.name = "omniglot"
    config.data.split = "lasium"
    config.data.image_size = 28
    config.generator.epochs = {"msgan": 500, "vae": 100, "augintae": 10, "cola": 500}[generator]
    config.lasium.translate = 5
    config.lasium.variance = 0.5 / config.generator.latent_dim if generator == "augintae" else 0.5
    config.lasium.alpha = 0.2
    config.meta.iterations = 1000
    config.train.shots = 1
    config.train.queries = 5
    config.train.steps_per_epoch = 250
    return config


def best_config():
    """The strongest recipe measured (issue 28; benchmarks/RESULTS.md, "LASIUM `best` on
    Lake's split"): COLA trained INLINE on the unlabelled training images (no
    from_workdir needed: the registry's COLA trainer runs steps I-III in this workdir,
    resumable), K = one cluster per training character (`cola.num_clusters = 0`: 1200 on
    the lasium split, 900 with --config.data.split=lake; only the count is read), the
    balanced step I, 30 step-II epochs, a rank-32 Gaussian per cluster; then ProtoNets for
    6000 iterations on 20-WAY 1-shot tasks whose classes are distinct clusters (evaluated
    5-way as always). Each choice made on the validation characters: ProtoNets over MAML
    at 1000 iterations (92.1 vs 88.4), 20-way over 5-way training episodes (93.00 vs 90.36
    at 1000 iterations; 94.50 at 3000 vs 5-way 6000's 93.53; 50-way gains as much per
    minute), no task augmentation (92.47 vs 93.00), 3 transductive soft k-means steps at
    test time (`meta.transductive_steps`: 97.17 vs 93.61 inductive; 1 step 96.52, 10
    steps 97.11; test shifts add 0.04-0.08 at 6x the cost: off). ProtoNets answers any
    N-way request natively; the exported `classify` refines the prototypes with the
    queries of the same call, so send a task's queries together (fewer queries gain
    less: 1 per class +1.2 on validation, 15 per class +3.6); the conv4 with ceil-mode
    pooling (`meta.backbone = 'conv4_ceil'`: 94.56 vs 93.87 inductive, 98.11 vs 97.73
    transductive, paired on one COLA at 3000 iterations). ~85 min on 2 idle cores with conv4
    (COLA ~30, ProtoNets 0.54 s a step)."""
    config = get_config("cola_protonets_cluster")
    config.meta.iterations = 6000
    config.train.ways = 20
    config.meta.transductive_steps = 3
    config.meta.backbone = "conv4_ceil"
    config.cola.num_clusters = 0
    config.cola.mixture_rank = 32
    use_balanced_clustering(config)
    return config
