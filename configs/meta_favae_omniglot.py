"""Meta-FAVAE on Omniglot (paper Table 1, "Omniglot" column).

Variants (`meta_favae.variant`; the same networks, data and protocol):
  favae  Meta-FAVAE: Reptile over the adversarial VAE, mode seeking, feedback augmentation;
  avae   Meta-AVAE: the same without feedback augmentation (the paper's ablation row);
  figr   FIGR: Reptile on the plain GAN (G, D of the same networks; no VAE, no feedback,
         no mode seeking).
favae and avae use the recipe that makes them draw the seeds' character
(`use_faithful_recipe`: outer lrs 10x, beta 1, FAML's L1 at 50, c from the encoder, G
fitted to the seeds at generation; issue 24); `favae_paper` / `avae_paper` are
Algorithm 1's settings exactly (the paper's, and what favae / avae meant before issue
24's recipe), with its 100k meta-iterations; the recipe trains 500 by default. figr is
the paper's either way.
Data: the `lake` split (Lake et al.): training tasks (4 images of one character) from the
900 `train` background characters, the sample grid on the 64 `val` background
characters, the generation protocol on the 659 evaluation characters (`gen_eval.split =
"test"`). 28x28 grey, white background. Algorithm 1's numbers (K 10, n_VAE 5, n_D 1,
n_G 5, g 4, beta 10); the paper's 100k meta-iterations are `generator.iterations`:
lower it to what the machine allows (the run is resumable). data.root (or
FEWGEN_DATA_DIR) must hold omniglot/.
"""

from fewgen_tf.config import base_config
from fewgen_tf.methods.meta_favae.config import META_FAVAE_VARIANTS, add_meta_favae
from fewgen_tf.methods.meta_favae.config import use_faithful_recipe

VARIANTS = META_FAVAE_VARIANTS + ("favae_paper", "avae_paper")


def get_config(variant="favae"):
    paper = variant.endswith("_paper")
    config = add_meta_favae(base_config(), variant[:-len("_paper")] if paper else variant)
    if not paper:
        use_faithful_recipe(config)
        # the recipe's budget: its val-character curve is flat from 500 meta-iterations
        # (fidelity 0.572 / 0.569 / 0.575 at 500 / 1000 / 2000; benchmarks/RESULTS.md),
        # 14 min on 2 cores; the paper's 100k stay with the _paper variants
        config.generator.iterations = 500
    config.pipeline = "meta_favae"
    config.data.name = "omniglot"
    config.data.split = "lake"
    config.data.image_size = 28
    config.meta_favae.train_split = "train"   # 900 background characters
    config.meta_favae.grid_split = "val"      # 64 background characters
    config.gen_eval.split = "test"            # the 659 evaluation characters
    return config
