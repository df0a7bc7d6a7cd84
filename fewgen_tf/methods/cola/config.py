"""COLA's config vocabulary: `cola.*` (COLA / GLO / sCOLA) and `small_sample.*` (the
small-sample classification of section 6) on top of `generator.*`, `augment.*` and
`gen_eval.*`."""

import ml_collections

from fewgen_tf.config import add_augmentation, add_generation_eval, add_generator


COLA_VARIANTS = ("cola", "glo", "scola")


def add_cola(config: ml_collections.ConfigDict, variant: str = "cola",
             num_clusters: int = 10) -> ml_collections.ConfigDict:
    """Add COLA / GLO / sCOLA (`generator.*` with name `cola`, `cola.*`, `augment.*`,
    `gen_eval.*`) with the paper's small-sample settings (appendix B): d = 64
    (`generator.latent_dim`), Adam 1e-3 for G and 1e-2 for the codes halved every tenth
    of 500 epochs, the InfoGAN generator, the Laplacian-pyramid loss; step I a ResNet-18
    (`cola.encoder_*`) with SGD 0.05, momentum 0.9, wd 5e-4 halved every quarter of 200
    epochs, batch 128. `variant`: cola | glo (random codes, no step I, an EM mixture) |
    scola (labels as class parts; pipeline `scola`)."""
    if variant not in COLA_VARIANTS:
        raise ValueError(f"unknown COLA variant {variant!r}; valid: {', '.join(COLA_VARIANTS)}")
    add_generator(config, "cola")
    config.pipeline = "scola" if variant == "scola" else "cola"
    config.generator.latent_dim = 64          # d, the variation part; codes are in R^(K+d)
    config.generator.lr = 1e-3                # Adam, G (halved every tenth of training)
    config.generator.batch_size = 128
    config.generator.epochs = 500             # step II epochs (cola.steps_per_epoch)
    if "augment" not in config:
        add_augmentation(config, "characters")
    if "gen_eval" not in config:
        add_generation_eval(config)
    config.cola = ml_collections.ConfigDict()
    config.cola.class_codes = "random" if variant == "glo" else "clusters"  # GLO: random
    config.cola.num_clusters = num_clusters   # K (sCOLA: the number of classes)
    config.cola.steps_per_epoch = 0           # step II iterations an epoch (0: one pass over
                                              # the images; N: the same whatever their number)
    config.cola.train_split = "train"         # the split trained on (labels only score)
    config.cola.eval_subset = ""              # data.subset of the real evaluation images
                                              # ("" = the training split itself)
    # step II (Algorithm 1)
    config.cola.code_lr = 1e-2                # Adam, codes (halved every tenth)
    config.cola.code_sigma = 1.0              # v_i ~ N(0, sigma I_d) before normalising
    config.cola.architecture = "infogan"      # infogan | residual
    config.cola.conditional_bn = False        # residual only: CGAN's conditional BN
    config.cola.width = 1.0                   # generator width multiplier
    config.cola.loss = "laplacian"            # laplacian (Eq. 5) | perceptual (Eq. 4) | l1
    config.cola.lap_gamma = 1.0               # Eq. 5's gamma
    config.cola.lap_bands = 3                 # band levels (+ the low-pass residual)
    config.cola.perceptual_model = ""         # a VGG .keras file / SavedModel dir you supply
    config.cola.perceptual_layers = ("block1_conv2", "block2_conv2", "block3_conv3")
    # step III
    config.cola.covariance_reg = 1e-4         # + reg I on every fitted covariance
    config.cola.em_iterations = 50            # GLO's mixture
    config.cola.mixture_rank = 0              # 0: full covariances (the paper); r > 0: r
                                              # principal directions + isotropic rest per
                                              # cluster (exact for clusters of <= r + 1
                                              # codes; for K in the hundreds or more)
    # step I (Algorithm 2)
    config.cola.encoder_widths = (64, 128, 256, 512)  # ResNet-18 (32x32)
    config.cola.encoder_blocks = (2, 2, 2, 2)
    config.cola.target_variance = 0.05        # sigma of the GMM targets around e_c
    config.cola.cluster_epochs = 200          # alternating assignment / rotation epochs
    config.cola.cluster_batch_size = 128
    config.cola.cluster_lr = 0.05             # SGD, halved every quarter
    config.cola.cluster_momentum = 0.9
    config.cola.weight_decay = 5e-4
    config.cola.views = 1                     # augmented views per image (consistency)
    config.cola.flip = False                  # random horizontal flips (natural images)
    # outputs
    config.cola.sample_images = 10            # samples per cluster in samples/clusters.png
    config.cola.eval_images_per_class = 100   # generated per class for CAS / Frechet
    return config


# Appendix B.3's classifier recipe: the one home of its defaults (the config below and
# small_sample.py's keyword defaults both read these).
SMALL_SAMPLE_MODES = ("real", "synthetic", "mix")
SMALL_SAMPLE_RECIPE = dict(backbone="resnet20", filters=16, batch_size=128, learning_rate=0.1,
                           momentum=0.9, lr_halvings=5, weight_decay=5e-4,
                           augmentation="auto", calibration_size=1024)


def add_small_sample(config: ml_collections.ConfigDict,
                     spc=(5, 10, 20, 50, 100)) -> ml_collections.ConfigDict:
    """Add COLA section 6's small-sample classification (pipeline `small_sample`,
    `small_sample.*`) on top of sCOLA (`add_cola(..., "scola")`: `generator.*` and
    `cola.*` train the generator of every draw). The classifier is appendix B.3's:
    ResNet-20, SGD 0.1 with momentum 0.9 halved 5 times at equal intervals, wd 5e-4,
    batch 128, flip+crop (RGB) or small affine (one channel) augmentation
    (fewgen_tf/methods/cola/small_sample.py)."""
    if "cola" not in config:
        add_cola(config, "scola")
    config.pipeline = "small_sample"
    s = config.small_sample = ml_collections.ConfigDict()
    s.spc = tuple(spc)                   # labelled images per class, one run per size
    s.draws = 3                          # random draws per size (draw d: fixed seed)
    s.seed = 0                           # the draws' seed (sCOLA and classifiers: seed + d)
    s.synthetic_per_class = 500          # sCOLA images per class for synthetic / mix
    s.modes = SMALL_SAMPLE_MODES
    r = SMALL_SAMPLE_RECIPE
    s.backbone = r["backbone"]           # resnet20|32|44|56, or strided4 (cheap, CPU budgets)
    s.filters = r["filters"]             # ResNet's first-stage width (strided4: every layer)
    s.classifier_steps = 2000            # the same for every mode and spc
    s.batch_size = r["batch_size"]
    s.learning_rate = r["learning_rate"]  # SGD, halved lr_halvings times at equal intervals
    s.lr_halvings = r["lr_halvings"]
    s.weight_decay = r["weight_decay"]
    s.augmentation = r["augmentation"]   # auto (flip_crop RGB / affine grey) | flip_crop |
                                         # affine | none
    s.calibration_size = r["calibration_size"]  # precise BN on this many images (0: off)
    s.test_subset = "test"               # data.subset of the real test images ("": the
                                         # training split's own images)
    s.grid_images = 8                    # samples/spc*_real_vs_synthetic.png per class
    # Appendix B.3 trains "with the same batch size, number of epochs, iterations per epoch
    # and learning schedule" on every data size: sCOLA's epoch is a fixed number of
    # iterations here too (one pass over 50 images would be ONE step: 200 epochs = 200
    # steps left the generator making dim blurs, 2026-11-24).
    config.cola.steps_per_epoch = 10
    return config
