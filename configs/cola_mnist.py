"""COLA and its GLO baseline on MNIST (paper section 3.1, Figure 5), unsupervised.

Trains on the 5k training digits (`data.subset = train`: mnist_5k.csv or the idx file),
all 10 classes (`data.split = all`); labels are read only to score step I (clustering
accuracy, NMI) and to map clusters to digits for CAS, which is measured against the real
10k test set (`cola.eval_subset = test`). K = 10 clusters, d = 64.

Step I's encoder is a narrower ResNet for 28x28 digits: widths 32-64-128, two basic
blocks per stage (ResNet-18 is 64-128-256-512 x 2 at 32x32, configs/cola_cifar10.py).
MNIST is white on black: the character augmentation ranges are kept with the symmetric
(edge-repeating) fill (`augment.kind = natural`), as configs/augintae_mnist.py.

Variants: cola (steps I-III) | glo (step II with random codes, an EM mixture) |
cola_2h (the budget that fits in well under 2 hours on 2 CPU cores, issue 25): step I with a
cheap encoder (16-32-64, one block a stage: ~10x fewer multiply-adds than 32-64-128 x 2,
5 s an epoch here, and it separates the digits better: 0.76-0.83 by epoch 40 against 0.62
for the wider encoder at its 40), 200 assignment epochs without RotNet, and from epoch 41
the BALANCED refinement (`cola.refine_method = balanced`: every epoch re-assigns all digits
to the one-hot means with exactly the balanced cluster sizes): clustering accuracy 0.83 ->
0.96 within 6 epochs, ~0.97 to the end (benchmarks/RESULTS.md "COLA step I on MNIST");
then 150 generator epochs (the paper: 500).
The budgets of `cola` / `glo` are the paper's (200 clustering epochs, 500 generator
epochs); shorten them with --config.cola.cluster_epochs / --config.generator.epochs.
"""

from fewgen_tf.config import base_config
from fewgen_tf.methods.cola.config import add_cola

VARIANTS = ("cola", "glo", "cola_2h")


def get_config(variant="cola"):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    config = add_cola(base_config(), "cola" if variant == "cola_2h" else variant,
                      num_clusters=10)
    config.data.name = "mnist"
    config.data.subset = "train"
    config.data.split = "all"
    config.data.image_size = 28
    config.cola.eval_subset = "test"
    config.cola.encoder_widths = (32, 64, 128)
    config.cola.encoder_blocks = (2, 2, 2)
    config.augment.kind = "natural"   # symmetric fill only; ranges stay the characters'
    if variant == "cola_2h":
        config.cola.encoder_widths = (16, 32, 64)
        config.cola.encoder_blocks = (1, 1, 1)
        config.cola.cluster_epochs = 200
        config.cola.rotnet = False
        config.cola.refine_epoch = 40
        config.cola.refine_method = "balanced"
        config.generator.epochs = 150
    return config
