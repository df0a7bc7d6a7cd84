"""Bad input is refused before anything trains or is written (issue 26, round two): every
check of the whole resolved config runs first (`pipelines.check_config`), data-dependent
checks right after the data is loaded, and a failing run leaves an existing workdir's
config.json byte for byte as it was."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, tree_snapshot
from fewgen_tf import config as config_lib
from fewgen_tf import pipelines
from fewgen_tf.errors import ConfigError, DataError, TrainingError


def _quickstart(**overrides):
    spec = importlib.util.spec_from_file_location("quickstart", REPO_ROOT / "configs" / "quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    config.data.num_classes = 30
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        (config[section] if section else config)[name] = value
    return config


def _tiny_supervised(**overrides):
    """A supervised run that trains 2 ProtoNets steps and evaluates 4 tasks."""
    return _quickstart(**{"pipeline": "supervised", "meta.iterations": 2,
                          "train.steps_per_epoch": 2, "train.val_tasks": 0,
                          "eval.num_tasks": 4, "meta.filters": 8, "export.enabled": False,
                          **overrides})


def _snapshot(workdir):
    """Every file of `workdir` and its bytes."""
    return tree_snapshot(workdir)


def _write_glyph_folder(root, classes=10, per_class=6):
    """An image folder of `classes` class folders of random 28x28 grey PNGs."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c:02d}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (28, 28, 1), dtype=np.uint8)
            tf.io.write_file(str(root / f"class{c:02d}" / f"{i}.png"), tf.io.encode_png(pixels))
    return root


def _tiny_folder_run(root, **overrides):
    return _tiny_supervised(**{"data.name": "folder", "data.root": str(root),
                               "data.channels": 1, "data.split_sizes": (5, 0, 5),
                               "train.queries": 5, "eval.queries": 5, **overrides})


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _write_glyph_folder(tmp_path_factory.mktemp("data") / "glyphs")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, folder):
    """A finished workdir (config.json, checkpoints, eval.json) of a tiny supervised run
    on an image folder."""
    workdir = tmp_path_factory.mktemp("finished") / "run"
    pipelines.run(_tiny_folder_run(folder), str(workdir))
    assert (workdir / "config.json").exists() and (workdir / "eval.json").exists()
    return workdir


# (key, value, message): each a typo or nonsense value the issue found reported late (after
# training), accepted, or as a traceback; now one ConfigError naming key, value and range.
CONFIG_CASES = [
    # 4. typos and impossible values found only after the generator trained
    ("meta.algorithm", "mamll", r"^unknown meta.algorithm 'mamll'; valid: maml, fomaml, "
                                r"protonets, reptile, scratch$"),
    ("lasium.strategy", "nn", r"^unknown lasium.strategy 'nn'; valid: n, ro, oc, cluster$"),
    ("meta.backbone", "conv5", r"^unknown meta.backbone 'conv5'; valid: conv4, conv4_ceil, strided4$"),
    ("meta.meta_batch_size", 0, r"^meta.meta_batch_size must be an int >= 1, got 0$"),
    ("eval.num_tasks", 0, r"^eval.num_tasks must be an int >= 1, got 0$"),
    ("lasium.strategy", "cluster", r"^lasium.strategy 'cluster' needs a class-conditional "
                                   r"generator with clusters \(generator.name cola\); "
                                   r"generator.name is 'vae': use n, ro or oc$"),
    ("lasium.epsilon", -1.0, r"^lasium.epsilon must be a number >= 0, got -1.0$"),
    ("lasium.cluster_images", "fake", r"^unknown lasium.cluster_images 'fake'; valid: "
                                      r"generated, real$"),
    ("lasium.cluster_images", "real", r"^lasium.cluster_images 'real' groups real images by "
                                      r"the generator's clusters: it needs lasium.strategy "
                                      r"'cluster', not 'n'$"),
    ("lasium.augment", "affine", r"^unknown lasium.augment 'affine'; valid: none, "
                                 r"characters, natural$"),
    # 6. nonsense that was accepted
    ("meta.iterations", -3, r"^meta.iterations must be an int >= 0, got -3$"),
    ("meta.meta_lr", -0.001, r"^meta.meta_lr must be a number > 0, got -0.001$"),
    ("generator.lr", -1.0, r"^generator.lr must be a number > 0, got -1.0$"),
    ("cpu_devices", -2, r"^cpu_devices must be an int >= 0 \(0 or 1: the CPU as one device\), "
                        r"got -2$"),
    # 7. tracebacks: conv4 on images of 8-15 pixels (Keras), batch size 0 (ZeroDivisionError)
    ("data.image_size", 12, r"^meta.backbone 'conv4' halves the image 4 times: it needs "
                            r"data.image_size >= 16, got 12 \(or use meta.backbone=strided4\)$"),
    ("generator.batch_size", 0, r"^generator.batch_size must be an int >= 1, got 0$"),
]


@pytest.mark.parametrize("key,value,message", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_values_are_refused_first_and_leave_the_workdir_as_it_was(finished, key, value,
                                                                      message):
    before = _snapshot(finished)
    config = _quickstart(**{key: value})  # the lasium pipeline: generator, then meta-learning
    with pytest.raises(ConfigError, match=message):
        pipelines.run(config, str(finished))
    assert _snapshot(finished) == before  # config.json too: a fixed rerun is not refused


def test_validation_imports_no_tensorflow():
    """The whole check runs in a fraction of a second, before TensorFlow loads."""
    code = ("import sys, importlib.util; from fewgen_tf import pipelines; "
            "spec = importlib.util.spec_from_file_location('q', 'configs/lasium_omniglot.py'); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "c = m.get_config('aug_maml_oc'); pipelines.check_config(c); "
            "c.meta.algorithm = 'mamll'\n"
            "try: pipelines.check_config(c)\n"
            "except ValueError as e: print(e)\n"
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "unknown meta.algorithm 'mamll'; valid: maml, fomaml, protonets, reptile, scratch",
        "False"]


def test_method_checks_come_from_the_registries():
    # the pipeline's method (augintae), and the generator's method under another pipeline
    from fewgen_tf.methods.augintae.config import add_augintae

    config = add_augintae(config_lib.base_config())
    config.pipeline = "augintae"
    config.augintae.variant = "intea"
    with pytest.raises(ConfigError, match="^unknown augintae.variant 'intea'; valid: augintae, "
                                          "ae, intae$"):
        pipelines.check_config(config)
    config = _quickstart(**{"generator.name": "meta_favae"})
    with pytest.raises(ConfigError, match="^generator 'meta_favae' is meta-trained"):
        pipelines.check_config(config)  # LASIUM cannot train it: from_workdir only
    config.generator.from_workdir = "/some/run"
    pipelines.check_config(config)
    config.pipeline = "meta_favae"
    with pytest.raises(ConfigError, match=r"^pipeline meta_favae reads gen_eval.\*, "
                                          r"meta_favae.\*, which this config lacks"):
        pipelines.check_config(config)


def test_a_class_too_small_for_gen_eval_is_refused_before_augintae_trains(tmp_path):
    """Data-dependent: known once the data is loaded, before the autoencoder trains."""
    from fewgen_tf import workdir as workdir_lib
    from fewgen_tf.methods.augintae.config import add_augintae

    config = add_augintae(config_lib.base_config())
    config.pipeline = "augintae"
    config.data.num_classes, config.data.images_per_class = 30, 12
    config.gen_eval.num_classes = 4
    workdir = tmp_path / "run"
    workdir_lib.write_config(str(workdir), config)  # the config.json of an earlier run
    (workdir / "gen_eval.json").write_text("{}")
    before = _snapshot(workdir)
    config.gen_eval.seeds_per_class, config.gen_eval.real_per_class = 5, 10
    with pytest.raises(DataError, match=r"has 12 images, fewer than gen_eval.seeds_per_class "
                                        r"\+ real_per_class = 5 \+ 10"):
        pipelines.run(config, str(workdir))
    assert _snapshot(workdir) == before


def test_an_impossible_epsilon_of_prior_anchors_is_refused_before_the_generator_trains(
        tmp_path):
    # MSGAN-style anchors from N(0, I): rejection does not depend on the generator
    config = _quickstart(**{"lasium.vae_real_anchors": False, "lasium.epsilon": 1e6,
                            "lasium.max_resamples": 3})
    with pytest.raises(DataError, match=r"LASIUM anchor rejection: no 5 anchors .* "
                                        r"epsilon=1000000.0 after 3 resamples"):
        pipelines.run(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written


def test_a_corrupt_image_leaves_the_finished_workdir_as_it_was(finished, folder, tmp_path):
    copy = shutil.copytree(folder, tmp_path / "glyphs")
    (copy / "class03" / "2.png").write_bytes(b"\x89PNG not really")
    before = _snapshot(finished)
    with pytest.raises(DataError, match=r"corrupt or unreadable image .*class03/2\.png"):
        pipelines.run(_tiny_folder_run(copy), str(finished))
    assert _snapshot(finished) == before


def test_after_config_json_is_deleted_a_changed_setting_writes_nothing(finished, folder,
                                                                      tmp_path):
    """The changed run fails on the checkpoints it cannot restore and must not leave its
    config.json behind: the correct rerun would be refused as "another setting"."""
    workdir = tmp_path / "run"
    shutil.copytree(finished, workdir)
    os.remove(workdir / "config.json")
    before = _snapshot(workdir)
    with pytest.raises(TrainingError, match="none of the checkpoints in .* can be read") as e:
        pipelines.run(_tiny_folder_run(folder, **{"meta.filters": 16}), str(workdir))
    assert "shape" in str(e.value) and "another setting (e.g. meta.filters)" in str(e.value)
    assert _snapshot(workdir) == before  # no config.json, eval.json untouched
    pipelines.run(_tiny_folder_run(folder), str(workdir))  # the correct rerun resumes
    written = json.loads((workdir / "config.json").read_text())
    assert written == json.loads((finished / "config.json").read_text())


def _main(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "fewgen_tf.main", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("config_flag,message", [
    ("configs/no_such_file.py", "fewgen_tf: error: --config=configs/no_such_file.py: cannot "
                                "load the config file: No such file or directory: "
                                "'configs/no_such_file.py'"),
    ("configs/augintae_omniglot.py:typo", "fewgen_tf: error: --config=configs/augintae_omniglot"
                                          ".py:typo: unknown AugIntAE variant 'typo'; valid: "
                                          "augintae, ae, intae"),
])
def test_a_missing_config_file_or_variant_is_one_line(tmp_path, config_flag, message):
    result = _main(f"--config={config_flag}", f"--workdir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [message]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,message", [
    (("--config=configs/no_such_file.py", "--config.seed=1"),
     "fewgen_tf: error: --config=configs/no_such_file.py: cannot load the config file: No "
     "such file or directory: 'configs/no_such_file.py'"),
    (("--config=configs/quickstart.py:nosuch",),
     "fewgen_tf: error: --config=configs/quickstart.py:nosuch: configs/quickstart.py has no "
     "variants: use --config=configs/quickstart.py"),
    (("--config=configs/quickstart.py", "--config.meta.nosuch.x=1"),
     "fewgen_tf: error: --config.meta.nosuch.x: meta has no key 'nosuch'; see docs/config.md "
     "for every key"),
    (("--config=configs/quickstart.py", "--config.meta.iterations.x=1"),
     "fewgen_tf: error: --config.meta.iterations.x: meta.iterations is a setting (int), not a "
     "section"),
    (("--config=configs/quickstart.py", "--workdir="),
     "fewgen_tf: error: --workdir is empty: give the directory this run writes to"),
    (("--config=configs/quickstart.py", "--config.meta.transductive_steps=1000000000"),
     "fewgen_tf: error: meta.transductive_steps must be an int >= 0 and <= 100, got "
     "1000000000"),
    (("--config=configs/quickstart.py", "--config.eval.ways=1"),
     "fewgen_tf: error: eval.ways must be >= 2 for a few-shot accuracy (a 1-way task is always "
     "answered right), got 1"),
])
def test_more_bad_command_lines_are_one_line_before_anything_is_written(tmp_path, args,
                                                                       message):
    workdir = () if any(a.startswith("--workdir") for a in args) else (
        f"--workdir={tmp_path / 'run'}",)
    result = _main(*args, *workdir)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_help_lists_the_pipelines_and_the_config_files_with_their_variants():
    result = _main("--help")
    assert result.returncode == 0, result.stderr
    assert "Pipelines (config.pipeline): augintae, cola, lasium" in result.stdout
    assert "configs/lasium_omniglot.py: gan_maml_n" in result.stdout
    assert "docs/config.md" in result.stdout


def test_vocabulary_names_declared_in_the_configs_match_the_modules_that_use_them():
    from fewgen_tf.data import registry
    from fewgen_tf.methods.cola import config as cola_config
    from fewgen_tf.nets import backbones, resnet

    assert set(registry.DATASETS) == set(config_lib.DATASET_SPLITS)
    assert cola_config.SMALL_SAMPLE_BACKBONES == tuple(resnet.BACKBONES) + backbones.BACKBONES


def test_a_workdir_below_a_file_or_in_a_read_only_place_is_refused_before_training(
        tmp_path, monkeypatch):
    (tmp_path / "somefile").write_text("not a directory")
    below_file = tmp_path / "somefile" / "run"
    result = subprocess.run(
        [sys.executable, "-m", "fewgen_tf.main", "--config=configs/quickstart.py",
         f"--workdir={below_file}"], cwd=REPO_ROOT, capture_output=True, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"fewgen_tf: error: workdir {below_file} cannot be created: {tmp_path / 'somefile'} "
        "is a file, not a directory")
    # read-only (chmod does not stop root, so os.access answers as for a read-only mount)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (
        False if os.path.abspath(path) == str(read_only) else real_access(path, mode)))
    for workdir, where in ((read_only / "a" / "run", f"{read_only} is"), (read_only, "it is")):
        with pytest.raises(ConfigError, match=rf"workdir {workdir} is not writable: {where} "
                                              "read-only"):
            pipelines.run(_tiny_supervised(), str(workdir))
    assert os.listdir(read_only) == []  # nothing created, nothing trained


def test_an_os_error_of_the_run_is_one_line_naming_the_path(monkeypatch):
    import errno
    import types

    from fewgen_tf import main as main_module

    def full_disk(config, workdir):
        raise OSError(errno.ENOSPC, "No space left on device", f"{workdir}/metrics.jsonl")

    monkeypatch.setattr(pipelines, "run", full_disk)
    monkeypatch.setattr(main_module, "FLAGS", types.SimpleNamespace(
        config=_tiny_supervised(), workdir="/data/run"))
    with pytest.raises(SystemExit) as caught:
        main_module.main(["fewgen_tf"])
    assert caught.value.code == ("fewgen_tf: error: cannot write /data/run/metrics.jsonl: "
                                 "No space left on device")
    assert main_module.os_error_message(FileNotFoundError(
        errno.ENOENT, "No such file or directory", "/x")) == (
        "cannot use /x: No such file or directory")


def test_a_tensorflow_write_error_on_a_full_disk_is_one_line(monkeypatch):
    """TensorFlow's own file ops (a checkpoint's SaveV2) raise OpErrors, not OSErrors;
    a full disk there is one line too, and any other TensorFlow error keeps its trace."""
    import types

    import tensorflow as tf

    from fewgen_tf import main as main_module

    def full_disk(config, workdir):
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{workdir}/checkpoints/ckpt-3_temp/part-0.data; No space left on "
            "device\n\tFailed to write [Op:SaveV2]")

    monkeypatch.setattr(pipelines, "run", full_disk)
    monkeypatch.setattr(main_module, "FLAGS", types.SimpleNamespace(
        config=_tiny_supervised(), workdir="/data/run"))
    with pytest.raises(SystemExit) as caught:
        main_module.main(["fewgen_tf"])
    assert caught.value.code == (
        "fewgen_tf: error: cannot write: No space left on device (/data/run/checkpoints/"
        "ckpt-3_temp/part-0.data; No space left on device)")

    def bug(config, workdir):
        raise tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [2] vs. [3]")

    monkeypatch.setattr(pipelines, "run", bug)
    with pytest.raises(tf.errors.InvalidArgumentError):
        main_module.main(["fewgen_tf"])


def test_an_impossible_epsilon_of_real_anchors_is_refused_before_the_generator_trains(
        tmp_path):
    """Real anchors (the quickstart's VAE mode) exist only once the encoder trained, but
    their scale is known before: a VAE's stay near N(0, I) (KL), AugIntAE's on the unit
    sphere (squared distances <= 4)."""
    config = _quickstart(**{"lasium.epsilon": 1e6})
    with pytest.raises(ConfigError, match=r"^lasium.epsilon=1e\+06 is out of reach with real "
                                          r"anchors of a VAE: .* 2 \* latent_dim = \d+"):
        pipelines.run(config, str(tmp_path / "vae"))
    assert not (tmp_path / "vae").exists()
    from fewgen_tf.methods.augintae.config import add_augintae

    config = add_augintae(_quickstart())  # generator.name augintae, its keys
    config.generator.latent_dim = 8
    config.lasium.epsilon = 4.0
    with pytest.raises(ConfigError, match=r"^lasium.epsilon=4 is impossible with real anchors "
                                          r"of an AugIntAE: its codes lie on the unit sphere"):
        pipelines.run(config, str(tmp_path / "augintae"))
    assert not (tmp_path / "augintae").exists()
