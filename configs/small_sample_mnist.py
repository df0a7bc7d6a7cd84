"""Classification from a very small sample on MNIST (COLA section 6, Figure 8's protocol).

spc labelled digits of every class are drawn from the 5k training digits
(`data.subset = train`, mnist_5k.csv: 500 a class), 3 draws a size; sCOLA (configs/
scola_mnist.py's settings: InfoGAN generator, d = 64, Laplacian-pyramid loss, Adam 1e-3 /
1e-2 halved every tenth of 500 epochs) is trained on each draw alone; then ResNet-20
(SGD 0.1 halved 5 times, wd 5e-4, batch 128, small affine augmentation for digits) is
trained real / synthetic / mix for the same steps and tested on the 10k test digits.

Variants: spc5, spc10, spc20, spc50, spc100 (one size each) and all = (5, 10, 20, 50, 100).
Every variant's result is small_sample.json in its workdir. For a CPU budget, lower
--config.generator.epochs, --config.small_sample.classifier_steps and use
--config.small_sample.backbone=strided4 (the command in docs/cola.md, section
"Classification from a small sample").
"""

from fewgen_tf.config import base_config
from fewgen_tf.methods.cola.config import add_cola, add_small_sample

SIZES = (5, 10, 20, 50, 100)
VARIANTS = tuple(f"spc{n}" for n in SIZES) + ("all",)


def get_config(variant="all"):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    config = add_cola(base_config(), "scola", num_clusters=10)
    config = add_small_sample(config, SIZES if variant == "all" else (int(variant[3:]),))
    config.data.name = "mnist"
    config.data.subset = "train"
    config.data.split = "all"
    config.data.image_size = 28
    config.small_sample.test_subset = "test"
    return config
