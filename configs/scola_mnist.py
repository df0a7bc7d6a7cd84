"""sCOLA on MNIST (paper section 3.2): steps II and III of COLA with the labels as the
codes' class parts, on the 5k training digits; CAS against the real 10k test set.
The paper's small-sample settings: InfoGAN generator, d = 64, Laplacian-pyramid loss,
Adam 1e-3 (generator) / 1e-2 (codes) halved every tenth of 500 epochs.
`--config.cola.architecture=residual --config.cola.conditional_bn=True` gives the
CGAN-style generator of the paper's Table 5."""

from fewgen_tf.config import base_config
from fewgen_tf.methods.cola.config import add_cola


def get_config():
    config = add_cola(base_config(), "scola", num_clusters=10)
    config.data.name = "mnist"
    config.data.subset = "train"
    config.data.split = "all"
    config.data.image_size = 28
    config.cola.eval_subset = "test"
    return config
