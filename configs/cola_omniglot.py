"""COLA and its GLO baseline on Omniglot (LASIUM split), unsupervised: the generator that
`configs/lasium_omniglot.py:cola_*_cluster` turns into LASIUM tasks (classes = clusters).

Trains on the 24,000 images of the LASIUM split's 1200 training characters; labels are
read only to score step I (clustering accuracy, NMI) and CAS, both on the training split
itself (`cola.eval_subset = ""`: the characters LASIUM meta-trains on; its test
characters stay unseen). K = 1200 clusters: the paper sets K to the number of classes
(10 for MNIST and CIFAR-10), here the training characters, so a cluster holds ~20 images
as a character does. d = 64. Step I's encoder is the narrow ResNet of configs/cola_mnist.py
(32-64-128, two basic blocks a stage); the character augmentation of
`add_augmentation(..., "characters")`. CAS / Frechet use 5 generated images a cluster
(6,000 in all).

Variants: cola (steps I-III) | glo (random codes, an EM mixture).
The budgets are the paper's (200 clustering epochs, 500 generator epochs); shorten them
with --config.cola.cluster_epochs / --config.generator.epochs.
"""

from fewgen_tf.config import add_cola, base_config

VARIANTS = ("cola", "glo")
TRAIN_CHARACTERS = 1200  # the LASIUM split's training characters (fewgen_tf/data/splits.py)


def get_config(variant="cola"):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    config = add_cola(base_config(), variant, num_clusters=TRAIN_CHARACTERS)
    config.data.name = "omniglot"
    config.data.split = "lasium"
    config.data.image_size = 28
    config.cola.encoder_widths = (32, 64, 128)
    config.cola.encoder_blocks = (2, 2, 2)
    config.cola.eval_images_per_class = 5
    config.cola.sample_images = 10
    return config
