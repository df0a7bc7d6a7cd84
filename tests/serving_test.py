"""TF Serving request bodies from export/client.py match the exported signatures, and
every signature refuses a bad request with one line naming the input (issue 26): no
request may crash the serving process or get a confident answer to a malformed task."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, tree_snapshot
from fewgen_tf import export, seeds
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.generators import msgan
from fewgen_tf.generators.reference import PixelBlend
from fewgen_tf.methods.cola import model as cola
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


# ------------------------------------------------------------------ bad requests
def _classifier(algorithm, head_init="auto"):
    config = add_meta_learning(base_config(), algorithm)
    config.meta.filters = 4
    config.meta.head_init = head_init
    config.eval.inner_steps = 2
    return factory.build_learner(config, (28, 28, 1))


_RNG = np.random.default_rng(0)
SUPPORT = _RNG.uniform(size=(10, 28, 28, 1)).astype(np.float32)
LABELS = np.array([0, 1, 2, 3, 4, 4, 3, 2, 1, 0], np.int32)
QUERY = _RNG.uniform(size=(6, 28, 28, 1)).astype(np.float32)
SEEDS = _RNG.uniform(size=(3, 28, 28, 1)).astype(np.float32)
LATENTS = _RNG.normal(size=(3, 8)).astype(np.float32)


def _valid(signature):
    return {"classify": dict(support_images=SUPPORT, support_labels=LABELS, query_images=QUERY),
            "generate": dict(seed_images=SEEDS, num_images=np.int32(4), seed=np.int32(7)),
            "decode": dict(latents=LATENTS),
            "sample": dict(num_images=np.int32(3), seed=np.int64(5)),
            "sample_class": dict(class_index=np.int32(1), num_images=np.int32(2),
                                 seed=np.int64(5))}[signature]


def _run(function, inputs):
    return {k: v.numpy() for k, v in function(**{k: tf.constant(v)
                                                 for k, v in inputs.items()}).items()}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Tiny exports of every kind: {name: (model, SavedModel path, loaded SavedModel)}."""
    root = tmp_path_factory.mktemp("exports")
    made = {algorithm: _classifier(algorithm) for algorithm in ("maml", "protonets")}
    made["maml_learned"] = _classifier("maml", "learned")  # a fixed 5-way head
    made["generator"] = cola.build_cola((28, 28, 1), 3, 5, width=0.25)  # decode, sample,
    made["fewshot"] = PixelBlend()                                      # sample_class
    paths = {name: export.export_classifier(made[name], str(root / name / "1"))
             for name in ("maml", "protonets", "maml_learned")}
    paths["generator"] = export.export_generator(made["generator"], str(root / "gen" / "1"))
    paths["fewshot"] = export.export_fewshot_generator(made["fewshot"], (28, 28, 1),
                                                       str(root / "fewshot" / "1"))
    return {name: (made[name], paths[name], tf.saved_model.load(paths[name])) for name in made}


def _nan_at(images, index):
    images = images.copy()
    images[index] = np.nan
    return images


BAD_REQUESTS = [  # (export, signature, replaced inputs, message)
    ("maml", "classify", dict(support_images=SUPPORT[:0], support_labels=LABELS[:0]),
     "classify: support_images is empty"),
    ("protonets", "classify", dict(support_images=SUPPORT[:0], support_labels=LABELS[:0]),
     "classify: support_images is empty"),
    ("maml", "classify", dict(query_images=QUERY[:0]), "classify: query_images is empty"),
    ("maml", "classify", dict(query_images=np.zeros((2, 32, 32, 1), np.float32)),
     r"classify: query_images must be \[Q, 28, 28, 1\]"),
    ("maml", "classify", dict(query_images=QUERY[..., 0]),  # rank 3: a oneDNN abort before
     r"classify: query_images must be \[Q, 28, 28, 1\]"),
    ("protonets", "classify", dict(support_images=SUPPORT[None]),
     r"classify: support_images must be \[S, 28, 28, 1\]"),
    ("maml", "classify", dict(support_labels=LABELS[:9]),
     r"classify: support_labels must be \[S\]: one label per support image"),
    ("maml", "classify", dict(support_labels=LABELS[:, None]),
     r"classify: support_labels must be \[S\]: one label per support image"),
    ("maml_learned", "classify",
     dict(support_labels=np.array([0, 0, 1, 2, 3, 3, 3, 2, 1, 0], np.int32)),
     "classify: support_labels must be 0..N-1 with every class present, N = 5"),
    ("maml_learned", "classify", dict(support_images=SUPPORT[:3], support_labels=LABELS[:3]),
     "classify: support_labels must be 0..N-1 with every class present, N = 5"),
    ("maml", "classify", dict(support_labels=np.array([0, 1, 2, 3, 9] * 2, np.int32)),
     r"classify: support_labels must be 0..N-1 with every class present\]"),  # any N, each
    ("maml", "classify", dict(support_labels=np.array([0, 1, 2, 5, 4] * 2, np.int32)),
     r"classify: support_labels must be 0..N-1 with every class present\]"),  # present
    ("protonets", "classify", dict(support_labels=np.array([0, 1, 2, 3, 9] * 2, np.int32)),
     "classify: support_labels must be 0..N-1 with every class present"),
    ("protonets", "classify", dict(support_labels=np.array([0, 1, 2, 3, -1] * 2, np.int32)),
     "classify: support_labels must be 0..N-1 with every class present"),
    ("maml", "classify", dict(query_images=_nan_at(QUERY, (2, 5, 5, 0))),
     r"classify: query_images must be finite \(a NaN or inf pixel\)"),
    ("protonets", "classify", dict(support_images=np.where(SUPPORT > 0.999, np.inf, SUPPORT)
                                   .astype(np.float32)),
     "classify: support_images must be finite"),
    ("maml", "classify", dict(query_images=QUERY * 255), r"classify: query_images must lie in "
                                                         r"\[0, 1\]"),
    ("protonets", "classify", dict(support_images=SUPPORT - 0.5),
     r"classify: support_images must lie in \[0, 1\]"),
    ("fewshot", "generate", dict(seed_images=_nan_at(SEEDS, (0, 0, 0, 0))),
     "generate: seed_images must be finite"),
    ("fewshot", "generate", dict(seed_images=SEEDS * 255),
     r"generate: seed_images must lie in \[0, 1\]"),
    ("fewshot", "generate", dict(seed_images=SEEDS[:0]), "generate: seed_images is empty"),
    ("fewshot", "generate", dict(seed_images=SEEDS[..., 0]),
     r"generate: seed_images must be \[S, 28, 28, 1\]"),
    ("fewshot", "generate", dict(num_images=np.int32(0)), "generate: num_images must be >= 1"),
    ("fewshot", "generate", dict(num_images=np.int32(10 ** 6)),
     "generate: num_images must be <= 10000 a call"),
    ("generator", "decode", dict(latents=np.zeros((0, 8), np.float32)), "decode: latents is empty"),
    ("generator", "decode", dict(latents=np.zeros((2, 7), np.float32)),
     r"decode: latents must be \[N, 8\]"),
    ("generator", "decode", dict(latents=np.full((2, 8), np.nan, np.float32)),
     "decode: latents must be finite"),
    ("generator", "sample", dict(num_images=np.int32(-2)), "sample: num_images must be >= 1"),
    ("generator", "sample", dict(num_images=np.int32(10 ** 7)),
     "sample: num_images must be <= 10000 a call"),
    ("generator", "sample_class", dict(class_index=np.int32(3)),
     r"sample_class: class_index must be in 0\.\.2"),
    ("generator", "sample_class", dict(class_index=np.int32(-1)),
     r"sample_class: class_index must be in 0\.\.2"),
    ("generator", "sample_class", dict(num_images=np.int32(0)),
     "sample_class: num_images must be >= 1"),
]


@pytest.mark.parametrize("name,signature,bad,message", BAD_REQUESTS,
                         ids=[f"{b[0]}-{b[3]}".replace("\\", "") for b in BAD_REQUESTS])
def test_a_bad_request_is_refused_with_one_line_naming_the_input(exports, name, signature, bad,
                                                                 message):
    function = exports[name][2].signatures[signature]
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        _run(function, {**_valid(signature), **bad})
    line = next(line for line in caught.value.message.splitlines() if "assertion failed" in line)
    assert re.search(message, line), line


@pytest.mark.parametrize("signature,inputs", [
    ("sample", dict(num_images=np.array([2, 3], np.int32))),
    ("sample", dict(seed=np.array([1, 2], np.int64))),
    ("sample_class", dict(class_index=np.array([1], np.int32)))])
def test_an_array_for_a_scalar_input_is_refused_by_tensorflow(exports, signature, inputs):
    """The graph takes a scalar's declared shape as known (Grappler folds any check of
    it), so `checked_inputs` cannot name it; TensorFlow refuses it, without a crash."""
    function = exports["generator"][2].signatures[signature]
    with pytest.raises(tf.errors.InvalidArgumentError):
        _run(function, {**_valid(signature), **inputs})


def _unchecked_export(model, endpoints, path):
    """The signatures as export.py wrote them before the input checks (the reference)."""
    archive = keras.export.ExportArchive()
    if isinstance(model, keras.layers.Layer):
        archive.track(model)
    for name, (function, specs) in endpoints.items():
        archive.add_endpoint(name, tf.function(function, input_signature=specs))
    archive.write_out(path, verbose=False)
    return path


def _unchecked_classify(learner):
    def classify(support_images, support_labels, query_images):
        weights, non_trainable = learner.current_weights()
        logits = learner.task_logits(weights, non_trainable, support_images, support_labels,
                                     query_images, training=False)
        return {"logits": logits, "predictions": tf.argmax(logits, -1, output_type=tf.int32)}
    return classify


def test_valid_requests_give_bitwise_the_outputs_of_unchecked_signatures(exports, tmp_path):
    images = lambda n: tf.TensorSpec([None, 28, 28, 1], tf.float32, name=n)  # noqa: E731
    scalar = lambda n, dtype=tf.int32: tf.TensorSpec([], dtype, name=n)  # noqa: E731
    for name in ("maml", "protonets"):
        learner = exports[name][0]
        reference = _unchecked_export(learner.net, {"classify": (_unchecked_classify(learner), [
            images("support_images"), tf.TensorSpec([None], tf.int32, name="support_labels"),
            images("query_images")])}, str(tmp_path / name))
        got = _run(exports[name][2].signatures["classify"], _valid("classify"))
        want = _run(tf.saved_model.load(reference).signatures["classify"], _valid("classify"))
        for key in ("logits", "predictions"):
            np.testing.assert_array_equal(got[key], want[key])

    generator = exports["generator"][0]
    reference = _unchecked_export(generator, {
        "decode": (lambda latents: {"images": generator.decode(latents)},
                   [tf.TensorSpec([None, 8], tf.float32, name="latents")]),
        "sample": (lambda num_images, seed: {"images": generator.decode(
            generator.sample_latents(num_images, seeds.seed_pair(seed)))},
                   [scalar("num_images"), scalar("seed", tf.int64)]),
        "sample_class": (lambda class_index, num_images, seed: {
            "images": generator.sample_class(class_index, num_images, seed)},
                         [scalar("class_index"), scalar("num_images"), scalar("seed", tf.int64)]),
    }, str(tmp_path / "generator"))
    fewshot = exports["fewshot"][0]
    reference_fewshot = _unchecked_export(fewshot, {"generate": (
        lambda seed_images, num_images, seed: {"images": tf.clip_by_value(
            fewshot.generate(seed_images, num_images, seed), 0.0, 1.0)},
        [images("seed_images"), scalar("num_images"), scalar("seed")])},
        str(tmp_path / "fewshot"))
    reference, reference_fewshot = (tf.saved_model.load(path)
                                    for path in (reference, reference_fewshot))
    for name, want, signature in [("generator", reference, "decode"),
                                  ("generator", reference, "sample"),
                                  ("generator", reference, "sample_class"),
                                  ("fewshot", reference_fewshot, "generate")]:
        got = _run(exports[name][2].signatures[signature], _valid(signature))
        want = _run(want.signatures[signature], _valid(signature))
        np.testing.assert_array_equal(got["images"], want["images"])


_EMPTY_SUPPORT_THEN_A_VALID_REQUEST = """
import sys
import numpy as np
import tensorflow as tf
classify = tf.saved_model.load(sys.argv[1]).signatures["classify"]
rng = np.random.default_rng(0)
support = tf.constant(rng.uniform(size=(5, 28, 28, 1)), tf.float32)
labels = tf.range(5, dtype=tf.int32)
query = tf.constant(rng.uniform(size=(3, 28, 28, 1)), tf.float32)
try:
    classify(support_images=support[:0], support_labels=labels[:0], query_images=query)
    print("no error")
except tf.errors.InvalidArgumentError as error:
    print("refused:", [line for line in error.message.splitlines()
                       if "assertion failed" in line][0])
print("then:", classify(support_images=support, support_labels=labels,
                        query_images=query)["predictions"].numpy().tolist())
"""


def test_an_empty_support_set_leaves_the_serving_process_alive(exports):
    """Before the checks, MAML's adaptation on an empty support set aborted the whole
    process (SIGABRT, a oneDNN max-pool-gradient check failure) or, with oneDNN off,
    answered with confident predictions."""
    result = subprocess.run(
        [sys.executable, "-c", _EMPTY_SUPPORT_THEN_A_VALID_REQUEST, exports["maml"][1]],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert "refused: assertion failed: [classify: support_images is empty]" in result.stdout
    rng = np.random.default_rng(0)  # the same valid request, served here
    support = tf.constant(rng.uniform(size=(5, 28, 28, 1)), tf.float32)
    query = tf.constant(rng.uniform(size=(3, 28, 28, 1)), tf.float32)
    served_here = exports["maml"][2].signatures["classify"](
        support_images=support, support_labels=tf.range(5, dtype=tf.int32), query_images=query)
    assert json.loads(result.stdout.split("then:")[1]) == \
        served_here["predictions"].numpy().tolist()


def test_an_unchanged_export_is_kept_byte_for_byte_and_a_changed_one_replaces_it(tmp_path):
    """An unchanged rerun of a finished run leaves its exports as they were (issue 26,
    item 8): saved_model.pb of a second export of the same model differs (process-wide
    function counters), so `export._write` compares TensorFlow's fingerprints instead."""
    learner = _classifier("protonets")
    path = export.export_classifier(learner, str(tmp_path / "classifier" / "1"))
    before = tree_snapshot(path, mtimes=True)
    tf.function(lambda x: x + 1.0)(tf.constant(1.0))  # moves the process's counters on
    again = export.export_classifier(learner, str(tmp_path / "again" / "1"))
    with open(os.path.join(path, "saved_model.pb"), "rb") as a, \
            open(os.path.join(again, "saved_model.pb"), "rb") as b:
        assert a.read() != b.read()  # why bytes alone cannot decide
    assert export.same_saved_model(path, again)

    assert export.export_classifier(learner, path) == path
    assert tree_snapshot(path, mtimes=True) == before            # same bytes, same mtimes: not rewritten
    assert sorted(os.listdir(tmp_path / "classifier")) == ["1"]  # no partial left behind

    weight = learner.trainable_variables[0]
    weight.assign_add(tf.ones_like(weight))
    export.export_classifier(learner, path)
    assert tree_snapshot(path, mtimes=True) != before            # new weights: replaced
    assert not export.same_saved_model(path, again)
    outputs = _run(tf.saved_model.load(path).signatures["classify"], _valid("classify"))
    assert np.all(np.isfinite(outputs["logits"]))


def test_a_changed_program_with_the_same_weights_replaces_the_export(tmp_path):
    """TensorFlow's fingerprint hashes alike two classifiers whose traced functions
    differ (ProtoNets with and without transductive refinement, same weights): the
    export must still be replaced, or a served model would not do what its config says."""
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.meta import factory

    config = add_meta_learning(base_config(), "protonets")
    config.meta.filters = 4
    plain = factory.build_learner(config, (28, 28, 1))
    config.meta.transductive_steps = 3
    refined = factory.build_learner(config, (28, 28, 1))  # the same seed: the same weights
    path = export.export_classifier(plain, str(tmp_path / "classifier" / "1"))
    before = tree_snapshot(path, mtimes=True)
    other = export.export_classifier(refined, str(tmp_path / "other" / "1"))
    assert export.program_digest(path) != export.program_digest(other)
    assert not export.same_saved_model(path, other)
    export.export_classifier(refined, path)
    assert tree_snapshot(path, mtimes=True) != before
    assert export.program_digest(path) == export.program_digest(other)


_EXPORT_IN_A_NEW_PROCESS = """
import sys, keras
keras.utils.set_random_seed(0)
from fewgen_tf import export
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.meta import factory
config = add_meta_learning(base_config(), "protonets")
config.meta.filters = 4
export.export_classifier(factory.build_learner(config, (28, 28, 1)), sys.argv[1])
"""


def test_the_same_model_exported_by_two_processes_gives_the_same_files(tmp_path):
    """Keras lists an export's variables in an order that changes from process to
    process (three processes, three orders, before `export.variables_in_fixed_order`):
    the variables files and the program must not depend on it."""
    paths = [str(tmp_path / name / "1") for name in ("a", "b")]
    for path in paths:
        subprocess.run([sys.executable, "-c", _EXPORT_IN_A_NEW_PROCESS, path], check=True,
                       cwd=REPO_ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                                               PYTHONPATH=str(REPO_ROOT)),
                       capture_output=True)
    assert export.same_saved_model(*paths)
    for name in ("variables/variables.index", "variables/variables.data-00000-of-00001"):
        with open(os.path.join(paths[0], name), "rb") as a, \
                open(os.path.join(paths[1], name), "rb") as b:
            assert a.read() == b.read(), name


def test_program_digest_ignores_the_process_counters_in_names(tmp_path):
    """A run that trained (traced many functions) before it exported and a rerun that
    restored name the same functions, loops and captured tensors with other counters
    (`__inference_f_123`, `while_body_456`, `shape_789`); the digest must not see that,
    but must see a changed body."""
    from fewgen_tf import export

    table = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))

    def module(extra):
        class Sampler(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
            def sample(self, n):
                rows = tf.while_loop(lambda i, acc: i < n,
                                     lambda i, acc: (i + 1, acc + tf.gather(table, i % 3)),
                                     (0, tf.zeros([4])))[1]
                return {"rows": rows * extra}
        return Sampler()

    first = str(tmp_path / "first")
    tf.saved_model.save(module(2.0), first)
    for k in range(5):  # other traces in between: every counter moves on
        tf.function(lambda x: tf.while_loop(lambda i: i < x, lambda i: i + 1, [0]))(k)
    again, changed = str(tmp_path / "again"), str(tmp_path / "changed")
    tf.saved_model.save(module(2.0), again)
    tf.saved_model.save(module(3.0), changed)
    assert open(f"{first}/saved_model.pb", "rb").read() != open(f"{again}/saved_model.pb",
                                                                 "rb").read()
    assert export.program_digest(first) == export.program_digest(again)
    assert export.program_digest(first) != export.program_digest(changed)
