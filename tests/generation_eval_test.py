"""The few-shot generation protocol: fixed tasks, reference generators, the shared
evaluation step (gen_eval.json, samples/fewshot.png) and the `generate` export."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf import export
from fewgen_tf.config import add_generation_eval
from fewgen_tf.data import generation_tasks, registry
from fewgen_tf.errors import DataError
from fewgen_tf.generators.reference import CopySeeds, PixelBlend
from fewgen_tf.stages import generation_eval


@pytest.fixture
def gen_config(synthetic_config, tmp_path):
    config = add_generation_eval(synthetic_config)
    config.gen_eval.num_classes = 4
    config.gen_eval.seeds_per_class = 3
    config.gen_eval.real_per_class = 4
    config.gen_eval.images_per_class = 6
    config.gen_eval.evaluation_network_steps = 40
    config.gen_eval.classifier_steps = 10
    config.gen_eval.feature_cache = str(tmp_path / "cache")
    return config


def test_generation_tasks_are_fixed_by_seed_and_keep_seeds_apart(synthetic_config):
    test = registry.load_splits(synthetic_config.data)["test"]
    first = generation_tasks.generation_tasks(test, 4, 3, 5, seed=42)
    again = generation_tasks.generation_tasks(test, 4, 3, 5, seed=42)
    other = generation_tasks.generation_tasks(test, 4, 3, 5, seed=43)
    assert [t.class_index for t in first] == [t.class_index for t in again]
    assert len({t.class_index for t in first}) == 4
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.seed_images, b.seed_images)
        np.testing.assert_array_equal(a.real_images, b.real_images)
        assert a.seed_images.shape == (3, 28, 28, 1) and a.real_images.shape == (5, 28, 28, 1)
        # held-out real images are other images of the class than the seeds
        for image in a.real_images:
            assert not any(np.array_equal(image, s) for s in a.seed_images)
    assert ([t.class_index for t in first] != [t.class_index for t in other]
            or not np.array_equal(first[0].seed_images, other[0].seed_images))
    with pytest.raises(DataError, match="fewer than gen_eval.seeds_per_class"):
        generation_tasks.generation_tasks(test, 4, 10, 10, seed=42)
    with pytest.raises(DataError, match="fewer than gen_eval.num_classes=1000"):
        generation_tasks.generation_tasks(test, 1000, 1, 1, seed=42)


def test_reference_generators_are_deterministic_and_do_what_they_say():
    r = np.random.default_rng(0)
    seeds = r.uniform(size=(3, 8, 8, 1)).astype(np.float32)
    copies = CopySeeds().generate(seeds, 5, 7).numpy()
    assert all(any(np.array_equal(c, s) for s in seeds) for c in copies)
    blend = PixelBlend()
    a, b = blend.generate(seeds, 5, 7).numpy(), blend.generate(seeds, 5, 7).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, blend.generate(seeds, 5, 8).numpy())
    for image in a:  # a blend of two seeds is no seed
        assert not any(np.allclose(image, s) for s in seeds)


def test_protocol_ranks_the_reference_generators_and_writes_the_workdir(gen_config, tmp_path):
    splits = registry.load_splits(gen_config.data)
    result = generation_eval.evaluate_fewshot_generator(
        PixelBlend(), gen_config, str(tmp_path / "run"), splits, name="pixel_blend_under_test")
    written = json.loads((tmp_path / "run" / "gen_eval.json").read_text())
    assert written == json.loads(json.dumps(result))
    assert written["features"].startswith("evaluation_network:")
    assert "FID" not in json.dumps(written)
    copy, blend = written["references"]["copy_seeds"], written["references"]["pixel_blend"]
    assert copy["novelty"] == 0.0
    assert 0.0 < blend["novelty"]
    assert written["metrics"] == blend  # the same generator, the same numbers
    assert copy["frechet_distance"] >= 0 and 0 <= copy["cas"] <= 1
    assert set(copy["mix"]) == {"real_only", "mix"}
    assert 0 <= copy["domain_rate"]["rate"] <= 1
    png = tf.io.decode_png(tf.io.read_file(str(tmp_path / "run" / "samples" /
                                               "fewshot.png"))).numpy()
    assert png.shape[0] == 4 * 30 + 2  # a row per class
    # The evaluation network is cached: a second run reuses it.
    assert len(os.listdir(gen_config.gen_eval.feature_cache)) == 1


def test_generation_input_errors_are_clear():
    with pytest.raises(DataError, match=r"seed_images must be \[S, 28, 28, 1\], got shape"):
        generation_eval.check_seed_images(np.zeros((2, 32, 32, 1)), (28, 28, 1), 4)
    with pytest.raises(DataError, match="seed_images is empty"):
        generation_eval.check_seed_images(np.zeros((0, 28, 28, 1)), (28, 28, 1), 4)
    with pytest.raises(DataError, match="num_images must be an int >= 1, got 0"):
        generation_eval.check_seed_images(np.zeros((2, 28, 28, 1)), (28, 28, 1), 0)


_LOAD_AND_GENERATE = """
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
seeds = tf.constant(np.load(sys.argv[2]))
out = model.signatures["generate"](seed_images=seeds, num_images=tf.constant(5),
                                   seed=tf.constant(3))
print(json.dumps(out["images"].numpy().tolist()))
for bad in ({"seed_images": seeds[:0], "num_images": tf.constant(5)},
            {"seed_images": seeds, "num_images": tf.constant(0)}):
    try:
        model.signatures["generate"](seed=tf.constant(3), **bad)
    except tf.errors.InvalidArgumentError as e:
        print("error:", " ".join(e.message.split()), file=sys.stderr)
print("fewgen_tf imported:", "fewgen_tf" in sys.modules, file=sys.stderr)
"""


def test_generate_export_round_trip_without_fewgen_tf(tmp_path):
    seeds = np.random.default_rng(1).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "seeds.npy", seeds)
    path = export.export_fewshot_generator(PixelBlend(), (8, 8, 1),
                                           str(tmp_path / "fewshot_generator" / "1"))
    result = subprocess.run([sys.executable, "-c", _LOAD_AND_GENERATE, path,
                             str(tmp_path / "seeds.npy")], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fewgen_tf imported: False" in result.stderr
    served = np.array(json.loads(result.stdout.strip().splitlines()[-1]), np.float32)
    np.testing.assert_allclose(served, PixelBlend().generate(seeds, 5, 3).numpy(), atol=1e-6)
    assert "generate: seed_images is empty" in result.stderr
    assert "generate: num_images must be >= 1" in result.stderr
