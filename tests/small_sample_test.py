"""Classification from a very small sample (COLA section 6): the CIFAR loader, the
per-class draw, ResNet-20, the three training modes and their augmentations."""

import os
import pickle
import tarfile

import numpy as np
import pytest
import tensorflow as tf

import tiny_configs
from fewgen_tf.config import base_config
from fewgen_tf.data import cifar, registry
from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.data.class_subsample import draw_indices, draw_small_sample
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.metrics import classifier
from fewgen_tf.nets import resnet
from fewgen_tf.methods.cola import section6_classifier as small_sample


# -- CIFAR ------------------------------------------------------------------------------

def _batch(labels, label_key=b"labels", marker=0, extra=None):
    """A batch in the official layout; image i has, at row 3, column 5 of the green plane,
    the value 100 + i + marker, and a unique first red pixel (i + marker)."""
    data = np.zeros((len(labels), 3072), np.uint8)
    for i in range(len(labels)):
        data[i, 1 * 1024 + 3 * 32 + 5] = 100 + i + marker
        data[i, 0] = i + marker
    batch = {b"batch_label": b"testing batch", b"data": data, label_key: list(labels),
             b"filenames": [b"x.png"] * len(labels)}
    batch.update(extra or {})
    return batch


def _dump(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)  # the official files are protocol-2 pickles


def _cifar10_dir(root):
    batches = root / "cifar-10-batches-py"
    for b in range(1, 6):
        _dump(batches / f"data_batch_{b}", _batch([b, 9], marker=10 * b))
    _dump(batches / "test_batch", _batch([3, 0, 3]))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
             b"horse", b"ship", b"truck"]
    _dump(batches / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    return batches


def test_cifar10_batches_pixel_layout_and_labels(tmp_path):
    _cifar10_dir(tmp_path)
    test = cifar.load_cifar(str(tmp_path), "cifar10", "test")
    assert test.images.shape == (3, 32, 32, 3) and test.images.dtype == np.float32
    assert test.class_names[3] == "cat" and test.num_classes == 10
    assert test.class_sizes.tolist() == [1, 0, 0, 2, 0, 0, 0, 0, 0, 0]
    # Sorted by label (stably): file order 3, 0, 3 -> images 1, 0, 2.
    expected_order = [1, 0, 2]
    for position, i in enumerate(expected_order):
        image = test.images[position]
        assert image[3, 5, 1] == pytest.approx((100 + i) / 255)  # row 3, column 5, green
        assert image[0, 0, 0] == pytest.approx(i / 255)
        assert np.count_nonzero(image) == (2 if i else 1)
    np.testing.assert_array_equal(test.labels, [0, 3, 3])
    train = cifar.load_cifar(str(tmp_path / "cifar-10-batches-py"), "cifar10", "train")
    assert len(train.images) == 10 and train.class_sizes[9] == 5
    # data_batch_b holds labels (b, 9): classes 1..5 get one image each, class 9 five.
    assert train.class_sizes.tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0, 5]
    small = cifar.load_cifar(str(tmp_path), "cifar10", "test", image_size=16, channels=1)
    assert small.images.shape == (3, 16, 16, 1)


def test_cifar100_fine_labels_from_the_archive(tmp_path):
    staging = tmp_path / "staging" / "cifar-100-python"
    coarse = {b"coarse_labels": [7, 7]}
    _dump(staging / "train", _batch([42, 99], b"fine_labels", extra=coarse))
    _dump(staging / "test", _batch([5, 5], b"fine_labels", marker=50, extra=coarse))
    names = [f"class{c:02d}".encode() for c in range(100)]
    _dump(staging / "meta", {b"fine_label_names": names, b"coarse_label_names": names[:20]})
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "cifar-100-python.tar.gz", "w:gz") as tar:
        tar.add(staging, arcname="cifar-100-python")
    test = cifar.load_cifar(str(root), "cifar100", "test")
    assert test.num_classes == 100 and test.class_sizes[5] == 2 and test.class_sizes[7] == 0
    assert test.class_names[5] == "class05"
    assert test.images[1, 3, 5, 1] == pytest.approx(151 / 255)
    train = cifar.load_cifar(str(root), "cifar100", "train")
    np.testing.assert_array_equal(train.labels, [42, 99])


def test_cifar_registry_and_class_folders(tmp_path):
    _cifar10_dir(tmp_path / "cifar10")  # root/cifar10/cifar-10-batches-py
    config = base_config().data
    config.name, config.root, config.subset, config.split = "cifar10", str(tmp_path), "test", "all"
    config.image_size = 32
    parts = registry.load_splits(config)
    assert parts["test"].images.shape == (3, 32, 32, 3) and parts["test"].name == "cifar10-test"
    folders = tmp_path / "folders"
    for class_name, value in (("cat", 10), ("airplane", 200)):
        (folders / "train" / class_name).mkdir(parents=True)
        tf.io.write_file(str(folders / "train" / class_name / "0.png"),
                         tf.io.encode_png(np.full((32, 32, 3), value, np.uint8)))
    d = cifar.load_cifar(str(folders), "cifar10", "train")
    assert d.class_names == ("airplane", "cat") and d.name == "cifar10-train"
    np.testing.assert_allclose(d.class_images(0), 200 / 255, atol=1e-6)


def test_cifar_errors_name_the_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"no cifar10 test data under .*test_batch"):
        cifar.load_cifar(str(tmp_path), "cifar10", "test")
    with pytest.raises(DataError, match="does not exist"):
        cifar.load_cifar(str(tmp_path / "nowhere"), "cifar100", "test")
    with pytest.raises(DataError, match="unknown cifar10 data.subset 'val'"):
        cifar.load_cifar(str(tmp_path), "cifar10", "val")
    batches = tmp_path / "cifar-10-batches-py"
    _dump(batches / "test_batch", _batch([1]))
    with pytest.raises(DataError, match=r"missing batch file .*data_batch_1"):
        cifar.load_cifar(str(tmp_path), "cifar10", "train")
    _dump(batches / "test_batch", {b"data": np.zeros((1, 3072), np.uint8), b"fine_labels": [1]})
    with pytest.raises(DataError, match=r"test_batch: a CIFAR batch needs keys b'data' and "
                                        r"b'labels'"):
        cifar.load_cifar(str(tmp_path), "cifar10", "test")
    _dump(batches / "test_batch", {b"data": np.zeros((1, 1024), np.uint8), b"labels": [1]})
    with pytest.raises(DataError, match=r"uint8 \[n, 3072\]"):
        cifar.load_cifar(str(tmp_path), "cifar10", "test")
    _dump(batches / "test_batch", {b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]})
    with pytest.raises(DataError, match=r"labels must lie in \[0, 10\)"):
        cifar.load_cifar(str(tmp_path), "cifar10", "test")
    _dump(batches / "test_batch", os.getcwd)  # a pickle that names a function: refused
    with pytest.raises(DataError, match=r"not a CIFAR python batch.*is not allowed"):
        cifar.load_cifar(str(tmp_path), "cifar10", "test")


# -- the per-class draw ------------------------------------------------------------------

def _dataset(sizes, name="toy"):
    arrays = [np.full((n, 2, 2, 1), c / 10 + np.arange(n)[:, None, None, None] / 1000,
                      np.float32) for c, n in enumerate(sizes)]
    return ClassDataset.from_class_arrays(name, arrays, [f"c{c}" for c in range(len(sizes))],
                                          [100 + c for c in range(len(sizes))])


def test_draw_small_sample_per_class_fixed_and_nested():
    data = _dataset([30, 12, 20])
    draw = draw_small_sample(data, 5, draw_index=0, seed=7)
    assert draw.class_sizes.tolist() == [5, 5, 5] and draw.class_names == data.class_names
    assert draw.class_keys == data.class_keys and draw.name == "toy/spc5-draw0"
    index = draw_indices(data, 5, 0, 7)
    np.testing.assert_array_equal(draw.images, data.images[index])
    np.testing.assert_array_equal(data.labels[index], draw.labels)
    assert len(set(index.tolist())) == 15  # without replacement
    np.testing.assert_array_equal(index, draw_indices(data, 5, 0, 7))  # fixed seed
    assert not np.array_equal(index, draw_indices(data, 5, 1, 7))  # another draw
    assert not np.array_equal(index, draw_indices(data, 5, 0, 8))  # another seed
    assert set(index) <= set(draw_indices(data, 10, 0, 7))  # sizes of a sweep are nested
    # A class's draw depends on its key, not on the other classes present.
    alone = draw_indices(data.subset([2]), 5, 0, 7)
    np.testing.assert_array_equal(data.subset([2]).images[alone], draw.class_images(2))
    assert draw_small_sample(data, 12, 0, 7).class_sizes.tolist() == [12, 12, 12]


def test_draw_small_sample_errors():
    data = _dataset([30, 12, 20])
    with pytest.raises(DataError, match=r"spc=13 .* class 'c1' holds only 12"):
        draw_small_sample(data, 13, 0, 0)
    with pytest.raises(DataError, match=r"spc=25 .* 'c1' holds only 12 \(and 1 other"):
        draw_small_sample(data, 25, 0, 0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DataError, match="spc .* positive integer"):
            draw_small_sample(data, bad, 0, 0)


# -- ResNet-20 ---------------------------------------------------------------------------

def test_resnet20_shapes_and_parameter_count():
    net = classifier.Classifier((32, 32, 3), 10, filters=16, backbone="resnet20")
    trainable = sum(int(np.prod(v.shape)) for v in net.model.trainable_variables)
    assert trainable == 269_722  # He et al.'s 0.27M (COLA Table 3)
    assert net.logits(np.zeros((3, 32, 32, 3), np.float32)).shape == (3, 10)
    assert net.features(np.zeros((2, 32, 32, 3), np.float32)).shape == (2, 64)
    convs = [l for l in net.embedding.layers if l.__class__.__name__ == "Conv2D"]
    assert len(convs) == 19  # + the Dense head = 20 weighted layers
    digits = resnet.resnet_embedding((28, 28, 1))
    assert digits.output_shape == (None, 64)
    assert digits.get_layer("stage3_block1_shortcut").output.shape[1:] == (7, 7, 64)
    shortcut = resnet.DownsampleShortcut(8)(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4))
    assert shortcut.shape == (1, 1, 2, 8)
    np.testing.assert_array_equal(np.asarray(shortcut)[0, 0, 1], [0, 0, 8, 9, 10, 11, 0, 0])


# -- batches, schedule, augmentation -----------------------------------------------------

def test_mix_batches_are_half_real_half_synthetic():
    real = (np.zeros((5, 4, 4, 1), np.float32), np.arange(5) % 2)
    synthetic = (np.ones((40, 4, 4, 1), np.float32), np.arange(40) % 2)
    for step in range(3):
        x, y, source = classifier.compose_batch([real, synthetic], 128, key=11, step=step)
        assert x.shape == (128, 4, 4, 1) and np.bincount(source).tolist() == [64, 64]
        np.testing.assert_array_equal(x[source == 0], 0.0)  # real images come from real
        np.testing.assert_array_equal(x[source == 1], 1.0)
    x, _, source = classifier.compose_batch([real, synthetic], 7, key=11, step=0)
    assert np.bincount(source).tolist() == [4, 3]
    a = classifier.compose_batch([real, synthetic], 16, key=11, step=1)
    b = classifier.compose_batch([real, synthetic], 16, key=11, step=1)
    c = classifier.compose_batch([real, synthetic], 16, key=11, step=2)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    # The trainer's mix mode hands exactly these two sources, real first, to that batching.
    sources = small_sample._mode_sources(*real, *synthetic, "mix", 2)
    assert [len(x) for x, _ in sources] == [5, 40] and sources[0][0].max() == 0.0
    # Precise BN calibrates on the batches' proportions, however few the real images.
    sample = classifier.calibration_sample(sources, [64, 64], 128, 64, seed=0)
    assert sample.shape == (10, 4, 4, 1) and np.count_nonzero(sample[:, 0, 0, 0] == 0) == 5
    assert len(classifier.calibration_sample(sources, [64, 64], 128, 8, seed=0)) == 8
    assert len(classifier.calibration_sample(sources[1:], [128], 128, 64, seed=0)) == 40


def test_flip_crop_is_a_shifted_window_of_the_zero_padded_image_maybe_flipped():
    images = np.random.RandomState(0).rand(16, 6, 5, 3).astype(np.float32) + 0.01
    out = small_sample.flip_crop(images, tf.constant([3, 4], tf.int64), padding=2).numpy()
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)])
    flips, shifts = 0, set()
    for i in range(len(images)):
        matches = [(dy, dx, flip) for dy in range(5) for dx in range(5) for flip in (0, 1)
                   if np.array_equal(out[i], (lambda w: w[:, ::-1] if flip else w)(
                       padded[i, dy:dy + 6, dx:dx + 5]))]
        assert len(matches) == 1, i
        flips += matches[0][2]
        shifts.add(matches[0][:2])
    assert 0 < flips < 16 and len(shifts) > 3  # both flips and several shifts occur
    again = small_sample.flip_crop(images, tf.constant([3, 4], tf.int64), padding=2).numpy()
    np.testing.assert_array_equal(out, again)
    assert small_sample.augmentation_for("auto", 3) is small_sample.flip_crop
    assert small_sample.augmentation_for("auto", 1) is small_sample.small_affine
    assert small_sample.augmentation_for("none", 1) is None
    digits = small_sample.small_affine(images[:, :, :, :1], tf.constant([1, 2], tf.int64))
    assert digits.shape == (16, 6, 5, 1) and not np.allclose(digits, images[:, :, :, :1])
    with pytest.raises(DataError, match="unknown augmentation 'mixup'"):
        small_sample.augmentation_for("mixup", 3)


# -- the trainer -------------------------------------------------------------------------

def _toy(per_class, seed, channels=1, size=8):
    """Three classes told apart by brightness alone (0.15, 0.5, 0.85, +-0.1 noise)."""
    r = np.random.RandomState(seed)
    labels = np.repeat(np.arange(3), per_class)
    images = (np.array([0.15, 0.5, 0.85], np.float32)[labels][:, None, None, None]
              + r.uniform(-0.1, 0.1, (len(labels), size, size, channels)))
    return images.astype(np.float32), labels


_FAST = dict(batch_size=16, calibration_size=64)


@pytest.mark.parametrize("mode,channels", [("real", 1), ("synthetic", 3), ("mix", 1)])
def test_each_mode_beats_chance_on_a_separable_toy_problem(mode, channels):
    real, synthetic, test = (_toy(n, s, channels) for n, s in ((4, 0), (20, 1), (30, 2)))
    if mode == "real":
        synthetic = (None, None)
    accuracy = small_sample.train_small_sample_classifier(
        *real, *synthetic, mode, 30, 0, test_images=test[0], test_labels=test[1],
        num_classes=3, **_FAST)
    assert accuracy > 0.8  # chance is 1/3


def test_training_is_deterministic_for_a_fixed_seed():
    real, synthetic = _toy(4, 0), _toy(10, 1)
    # Random test images: logits that depend on every weight, not a saturated accuracy.
    probe = np.random.RandomState(5).rand(40, 8, 8, 1).astype(np.float32)
    nets = [small_sample.fit_small_sample_classifier(*real, *synthetic, "mix", 12, seed,
                                                     num_classes=3, **_FAST)
            for seed in (3, 3, 4)]
    first, again, other = (net.logits(probe) for net in nets)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert nets[0].accuracy(*_toy(10, 2)) == nets[1].accuracy(*_toy(10, 2))


def test_trainer_errors_name_the_problem():
    real, synthetic, test = _toy(2, 0), _toy(2, 1), _toy(2, 2)
    run = small_sample.train_small_sample_classifier
    options = dict(test_images=test[0], test_labels=test[1], num_classes=3)
    with pytest.raises(DataError, match="mode 'mix' trains on synthetic images, but none"):
        run(*real, None, None, "mix", 1, 0, **options)
    with pytest.raises(DataError, match="mode 'real' trains on real images, but none"):
        run(np.zeros((0, 8, 8, 1), np.float32), [], *synthetic, "real", 1, 0, **options)
    with pytest.raises(DataError, match="unknown small-sample mode 'both'"):
        run(*real, *synthetic, "both", 1, 0, **options)
    with pytest.raises(DataError, match=r"synthetic_labels: class indices must lie in \[0, 3\)"):
        run(*real, synthetic[0], synthetic[1] + 1, "mix", 1, 0, **options)
    with pytest.raises(DataError, match=r"real_labels: expected one label per image \(6\)"):
        run(real[0], real[1][:-1], *synthetic, "real", 1, 0, **options)
    with pytest.raises(DataError, match=r"one shape .*synthetic_images \(8, 8, 3\)"):
        run(*real, _toy(2, 1, channels=3)[0], synthetic[1], "real", 1, 0, **options)
    with pytest.raises(DataError, match=r"one shape .*image_shape \(9, 9, 1\)"):
        run(*real, *synthetic, "mix", 1, 0, test_images=_toy(2, 2, size=9)[0],
            test_labels=test[1], num_classes=3)
    with pytest.raises(DataError, match="steps must be >= 1"):
        run(*real, *synthetic, "mix", 0, 0, **options)
    assert small_sample.summarize([0.5, 0.7]) == pytest.approx(
        {"mean": 0.6, "std": 0.1, "draws": 2})


# -- the `small_sample` pipeline ---------------------------------------------------------

def _pipeline_config(spc=(2, 3), draws=2):
    from fewgen_tf.methods.cola.config import add_cola, add_small_sample

    config = add_small_sample(add_cola(base_config(), "scola", num_clusters=2), spc)
    return tiny_configs.apply(config, tiny_configs.SMALL_SAMPLE, {"small_sample.draws": draws})


@pytest.mark.slow  # an end-to-end pipeline run
def test_pipeline_end_to_end_resumes_without_redoing_finished_draws(tmp_path, monkeypatch):
    import json

    from fewgen_tf import pipelines, workdir as workdir_lib
    from fewgen_tf.methods.cola import pipeline_small_sample as pipeline

    config = _pipeline_config()
    workdir = tmp_path / "run"
    trained = []
    real_trainer = small_sample.train_small_sample_classifier

    def interrupted(*args, **kwargs):  # the run "dies" in the 8th classifier (spc 3, draw 0)
        trained.append(args[4])
        if len(trained) == 8:
            raise KeyboardInterrupt
        return real_trainer(*args, **kwargs)

    monkeypatch.setattr(pipeline.recipe, "train_small_sample_classifier", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipelines.run(config, str(workdir))
    first = [(r["spc"], r["draw"]) for r in workdir_lib.read_metrics(str(workdir))]
    assert first == [(2, 0), (2, 1)] and trained[:3] == ["real", "synthetic", "mix"]
    partial = json.loads((workdir / "small_sample.json").read_text())
    assert list(partial["results"]) == ["2"] and not partial["complete"]

    trained.clear()
    summary = pipelines.run(config, str(workdir))
    records = workdir_lib.read_metrics(str(workdir))
    assert [(r["spc"], r["draw"]) for r in records] == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert len(trained) == 6  # only spc 3's two draws, three modes each
    assert records[2]["scola_resumed"] and not records[3]["scola_resumed"]
    written = json.loads((workdir / "small_sample.json").read_text())
    assert written == json.loads(json.dumps(summary)) and written["complete"]
    assert set(written["results"]) == {"2", "3"}
    for spc in (2, 3):
        runs = [r for r in written["runs"] if r["spc"] == spc]
        assert [r["draw"] for r in runs] == [0, 1] and runs[0]["train_images"] == 2 * spc
        for mode in ("real", "synthetic", "mix"):
            values = [r["accuracy"][mode] for r in runs]
            assert all(0.0 <= v <= 1.0 for v in values)
            assert written["results"][str(spc)][mode] == pytest.approx(
                {"mean": np.mean(values), "std": np.std(values), "draws": 2})
        assert {"scola", "generate", "real", "synthetic", "mix"} <= set(runs[0]["seconds"])
        assert runs[0]["synthetic_images"] == 2 * 5
    protocol = written["protocol"]
    assert protocol["test_images"] == 12 and protocol["classifier"]["backbone"] == "strided4"
    assert sorted(p.name for p in (workdir / "samples").iterdir()) == [
        "spc2_real_vs_synthetic.png", "spc3_real_vs_synthetic.png"]
    assert (workdir / "spc3" / "draw1" / "checkpoints" / "generator").is_dir()

    # a third run has nothing left to do; other settings in the same workdir are refused
    trained.clear()
    pipelines.run(config, str(workdir))
    assert not trained and len(workdir_lib.read_metrics(str(workdir))) == 4
    config.small_sample.classifier_steps = 4
    with pytest.raises(ConfigError, match="small_sample.classifier_steps: 3 there, 4 now"):
        pipelines.run(config, str(workdir))


def test_pipeline_errors_are_clear_and_come_before_training(tmp_path):
    from fewgen_tf import pipelines

    config = _pipeline_config(spc=(2, 7))
    with pytest.raises(DataError, match=r"spc=7 images per class asked, but class .* holds "
                                        r"only 6"):
        pipelines.run(config, str(tmp_path / "a"))
    assert not (tmp_path / "a" / "spc2").exists()  # nothing trained
    for key, value, message in (("spc", (0,), "positive integers"),
                                ("modes", ("real", "both"), "valid modes are real"),
                                ("backbone", "vgg", "unknown small_sample.backbone 'vgg'")):
        config = _pipeline_config()
        config.small_sample[key] = value
        with pytest.raises(ConfigError, match=message):
            pipelines.run(config, str(tmp_path / key))
    config = _pipeline_config()
    config.cola.num_clusters = 3
    with pytest.raises(ConfigError, match=r"num_clusters \(3\) must equal .* \(2\)"):
        pipelines.run(config, str(tmp_path / "k"))


def test_small_sample_mnist_variants():
    import importlib.util

    from conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location(
        "small_sample_mnist", REPO_ROOT / "configs" / "small_sample_mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.VARIANTS == ("spc5", "spc10", "spc20", "spc50", "spc100", "all")
    assert module.get_config("spc20").small_sample.spc == (20,)
    config = module.get_config("all")
    assert config.pipeline == "small_sample" and config.small_sample.spc == (5, 10, 20, 50, 100)
    assert (config.data.name, config.data.subset, config.small_sample.test_subset) == (
        "mnist", "train", "test")
    assert config.small_sample.backbone == "resnet20" and config.small_sample.draws == 3
    assert config.cola.num_clusters == 10 and config.generator.name == "cola"
    with pytest.raises(ValueError, match="unknown variant 'spc7'"):
        module.get_config("spc7")
