"""The tiny configurations of the end-to-end tests, in one home: the tests apply them to a
ConfigDict (`apply`) or pass them to the CLI (`flags`), and tools/kill_resume.py kills
and resumes CLI runs of them, so the configurations it proves resumable are the tested
ones. Each is {dotted config key: value} on the built-in synthetic glyphs (no data files),
a run of seconds on 2 CPU cores; a user adds what is its own (epochs, devices, caches).
Plain Python: importing it loads neither TensorFlow nor the package."""

# configs/quickstart.py's meta-learning at a few steps: 40 glyph classes, 2 steps an epoch,
# 4 validation and 8 test tasks, 8 filters.
QUICKSTART_META = {"train.steps_per_epoch": 2, "train.val_tasks": 4, "eval.num_tasks": 8,
                   "meta.filters": 8, "data.num_classes": 40}

# 30 glyph classes of 12 images, a random class split (conftest's `synthetic_config`).
SYNTHETIC = {"data.name": "synthetic", "data.split": "random", "data.num_classes": 30,
             "data.images_per_class": 12}
GLYPHS_16 = {**SYNTHETIC, "data.image_size": 16}
# The generation protocol on 3 novel classes, with a quickly trained evaluation network.
GEN_EVAL = {"gen_eval.num_classes": 3, "gen_eval.seeds_per_class": 4,
            "gen_eval.real_per_class": 3, "gen_eval.images_per_class": 4,
            "gen_eval.evaluation_network_steps": 20, "gen_eval.classifier_steps": 5}

# AugIntAE at 1/8 of the paper's widths, latent 8.
AUGINTAE = {"generator.latent_dim": 8, "generator.batch_size": 32, "augintae.width": 0.125,
            "augintae.interpolation_pairs": 2, "augintae.interpolation_steps": 4}

# Meta-FAVAE at 1/16 of the paper's widths, codes and noise of 4, one step of each kind a
# round and one round, epochs of 2 meta-iterations.
META_FAVAE = {"generator.latent_dim": 4, "meta_favae.noise_dim": 4, "meta_favae.width": 1 / 16,
              "meta_favae.rounds": 1, "meta_favae.vae_steps": 1, "meta_favae.d_steps": 1,
              "meta_favae.g_steps": 1, "meta_favae.steps_per_epoch": 2,
              "meta_favae.grid_classes": 2, "meta_favae.grid_images": 3}

# COLA / GLO / sCOLA (2 clusters) at 16x16 with tiny networks; COLA's step I encoder;
# their data (2 glyph classes of 12 images, all training) and evaluation.
COLA = {"data.image_size": 16, "generator.latent_dim": 4, "generator.batch_size": 8,
        "generator.epochs": 2, "generator.lr": 3e-3, "cola.width": 0.125, "cola.lap_bands": 2}
COLA_STEP_ONE = {"cola.encoder_widths": (4, 8), "cola.encoder_blocks": (1, 1),
                 "cola.cluster_batch_size": 8, "cola.cluster_epochs": 2}
TWO_GLYPHS = {"data.name": "synthetic", "data.num_classes": 2, "data.images_per_class": 12,
              "data.split": "all"}
COLA_EVAL = {"cola.eval_images_per_class": 4, "cola.sample_images": 3,
             "gen_eval.evaluation_network_steps": 10, "gen_eval.classifier_steps": 5}

# The small-sample experiment on sCOLA: 2 glyph classes of 6 images, strided4 classifiers
# of 3 steps; the synthetic glyphs have one subset, so test_subset "" tests on all images.
SMALL_SAMPLE = {"data.name": "synthetic", "data.num_classes": 2, "data.images_per_class": 6,
                "data.split": "all", "data.image_size": 16, "generator.latent_dim": 4,
                "generator.batch_size": 4, "generator.epochs": 2, "cola.width": 0.125,
                "cola.lap_bands": 2, "small_sample.synthetic_per_class": 5,
                "small_sample.backbone": "strided4", "small_sample.filters": 8,
                "small_sample.classifier_steps": 3, "small_sample.batch_size": 8,
                "small_sample.calibration_size": 16, "small_sample.test_subset": "",
                "small_sample.grid_images": 3}


def _merged(settings):
    merged = {}
    for setting in settings:
        merged.update(setting)
    return merged


def apply(config, *settings):
    """`config` (a ConfigDict) with every {dotted key: value} of `settings` set in place,
    later settings winning; returns it."""
    for key, value in _merged(settings).items():
        *parents, name = key.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[name] = value
    return config


def flags(*settings) -> tuple:
    """`settings` merged (later ones win) as fewgen_tf.main's --config.KEY=VALUE flags."""
    return tuple(f"--config.{key}={value}" for key, value in _merged(settings).items())
