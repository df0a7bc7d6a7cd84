"""Quickstart: LASIUM on the built-in synthetic glyphs, end to end, with no data files:
train a small VAE on the unlabeled train glyphs, meta-train ProtoNets on tasks built in
its latent space (real anchors + N strategy), evaluate 5-way 1-shot on real unseen
glyph classes beside the untrained network on the same tasks (summary.json), and export
the classifier, generator and task sampler.
`--config.eval.supervised_baseline=True` adds the supervised upper bound (ProtoNets
meta-trained on labelled episodes, about a minute more) to the comparison;
`--config.pipeline=supervised` runs that baseline alone, `--config.pipeline=preview`
shows the data.

Budget (chosen on the validation classes, benchmarks/RESULTS.md "Quickstart"): 40 images
per glyph class give the VAE 2400 unlabeled train images; 20 epochs (740 steps) make its
samples and the generated tasks recognisably glyph-like (15 epochs of 20 images per
class gave grey smudges, and tasks no better than an untrained network's features);
generated queries shifted by up to +-2 pixels (as the reference code's +-5 on Omniglot:
+4.7 points on the validation classes); 300 ProtoNets iterations on its tasks.
"""

from fewgen_tf.config import add_meta_learning, add_preview, base_config
from fewgen_tf.methods.lasium.config import add_lasium


def get_config():
    config = add_lasium(add_meta_learning(base_config(), "protonets"), "vae", "n")
    config.pipeline = "lasium"
    config.data.name = "synthetic"
    config.data.num_classes = 100
    config.data.images_per_class = 40
    config.data.split = "random"
    config.generator.epochs = 20
    config.generator.batch_size = 64
    config.lasium.variance = 0.5
    config.lasium.translate = 2
    config.meta.iterations = 300
    config.train.steps_per_epoch = 100
    config.train.val_tasks = 50
    config.eval.num_tasks = 500
    config.eval.queries = 15
    config.eval.untrained_baseline = True
    add_preview(config)
    return config
