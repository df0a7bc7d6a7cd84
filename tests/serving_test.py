"""TF Serving request bodies from export/client.py match the exported signatures."""

import importlib.util
import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT
from fewgen_tf import export
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.generators import msgan
from fewgen_tf.methods.lasium.tasks import LatentTaskSampler
from fewgen_tf.meta import factory

_spec = importlib.util.spec_from_file_location("client", REPO_ROOT / "export" / "client.py")
client = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(client)


def _call(saved_model_dir, body):
    """Run a REST body's columnar inputs through the SavedModel signature it names,
    checking the input names and dtypes the way TF Serving would."""
    signature = tf.saved_model.load(saved_model_dir).signatures[body["signature_name"]]
    specs = signature.structured_input_signature[1]
    assert set(body["inputs"]) == set(specs), (set(body["inputs"]), set(specs))
    body = json.loads(json.dumps(body))  # exactly what goes over the wire
    tensors = {name: tf.constant(value, dtype=specs[name].dtype)
               for name, value in body["inputs"].items()}
    for name, tensor in tensors.items():
        assert specs[name].shape.is_compatible_with(tensor.shape), name
    return signature(**tensors)


def test_request_bodies_match_the_exported_signatures(tmp_path):
    generator = msgan.omniglot_msgan(latent_dim=8)
    generator_dir = export.export_generator(generator, str(tmp_path / "generator" / "1"))
    sampler = LatentTaskSampler(generator, 3, 1, 2, "n")
    sampler_dir = export.export_task_sampler(sampler, str(tmp_path / "task_sampler" / "1"))
    config = add_meta_learning(base_config(), "protonets")
    config.meta.filters = 8
    classifier_dir = export.export_classifier(factory.build_learner(config, (28, 28, 1)),
                                              str(tmp_path / "classifier" / "1"))

    images = _call(generator_dir, client.sample_request(4, 7))["images"]
    assert images.shape == (4, 28, 28, 1)
    decoded = _call(generator_dir, client.decode_request(np.zeros((2, 8))))["images"]
    assert decoded.shape == (2, 28, 28, 1)
    task = _call(sampler_dir, client.sample_task_request(3))
    assert task["support_images"].shape == (3, 28, 28, 1)
    assert task["query_labels"].numpy().tolist() == [0, 0, 1, 1, 2, 2]
    result = _call(classifier_dir, client.classify_request(
        task["support_images"].numpy(), task["support_labels"].numpy(),
        task["query_images"].numpy()))
    assert result["logits"].shape == (6, 3) and result["predictions"].shape == (6,)
    assert set(client.MODELS.values()) == {"classifier", "generator", "task_sampler",
                                           "fewshot_generator"}


def test_generate_request_body_matches_the_exported_signature(tmp_path):
    from fewgen_tf.generators.reference import PixelBlend

    path = export.export_fewshot_generator(PixelBlend(), (28, 28, 1),
                                           str(tmp_path / "fewshot_generator" / "1"))
    seeds = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    images = _call(path, client.generate_request(seeds, 4, 7))["images"]
    assert images.shape == (4, 28, 28, 1)
    np.testing.assert_allclose(images.numpy(), PixelBlend().generate(seeds, 4, 7).numpy(),
                               atol=1e-6)


def test_exported_generate_names_the_input_of_a_wrong_shape(tmp_path):
    """A loaded signature does not enforce its static image shape: `generate` checks it.
    (A wrong dtype is refused by TensorFlow as "input #N was expected to be a float
    tensor", by position; over TF Serving's REST API the JSON is cast to the declared
    dtype.)"""
    from fewgen_tf.generators.reference import CopySeeds

    path = export.export_fewshot_generator(CopySeeds(), (28, 28, 1), str(tmp_path / "g" / "1"))
    generate = tf.saved_model.load(path).signatures["generate"]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"generate: seed_images must be \[S, 28, 28, 1\]"):
        generate(seed_images=tf.zeros((2, 32, 32, 1)), num_images=tf.constant(2),
                 seed=tf.constant(0))
