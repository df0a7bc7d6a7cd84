"""SavedModels with named serving signatures, in TF Serving's directory layout.

Exports land in `workdir/export/NAME/VERSION/` (TF Serving loads the highest VERSION
under `export/NAME`). Every signature takes and returns named tensors, images float32
in [0, 1], and runs with `tf.saved_model.load` alone: no fewgen_tf import is needed.

Every signature checks its inputs inside the graph (`checked_inputs`) before anything
reads them: a loaded signature enforces only its inputs' dtypes, and a request of the
wrong shape, an empty support set, a NaN pixel or a label without its class would
otherwise abort the serving process (oneDNN check failures) or return confident
nonsense. A bad request fails with an InvalidArgumentError whose message names the
signature, the input and the problem on one line ("classify: support_images is empty").
"""

import contextlib
import hashlib
import os
import re

import keras
import tensorflow as tf
from absl import logging

from fewgen_tf import seeds
from fewgen_tf import workdir as workdir_lib


@contextlib.contextmanager
def variables_in_fixed_order():
    """While it is open, Keras' ExportArchive lists a SavedModel's variables in a fixed
    order (by name, shape and dtype). Keras lists them in the order its traced functions
    report them, which differs from one process to the next (measured: the same model
    exported by three processes gave three orders, three variables files and three
    program hashes); the SavedModel stores them by position, so two exports of the same
    weights differed in every file. With a fixed order, an unchanged rerun of a finished
    run writes what is already there (`_write` then keeps the old export). The order
    must be fixed before Keras tracks the variables (sorting its list afterwards changes
    nothing: measured), so this wraps Keras' private listing function; in a Keras without
    it the order stays Keras' (tests/serving_test.py would say so)."""
    try:
        from keras.src.export import saved_model_export_archive as keras_archive
        listing = keras_archive._list_variables_used_by_fns
    except (ImportError, AttributeError):
        yield
        return

    def in_order(functions):  # (trainable, non-trainable), each sorted
        return tuple(sorted(found, key=lambda v: (v.name, str(v.shape), v.dtype.name))
                     for found in listing(functions))

    keras_archive._list_variables_used_by_fns = in_order
    try:
        yield
    finally:
        keras_archive._list_variables_used_by_fns = listing


def export_dir(workdir: str, name: str, version: int) -> str:
    return os.path.join(workdir, "export", name, str(int(version)))


def checked_inputs(signature: str, checks, *inputs):
    """`inputs` through identity ops that run only after every check has passed.

    `checks` is a list of (condition, problem): `condition()` builds a scalar bool
    tensor, built and asserted only after the previous checks passed (so it may assume
    them: a label check runs on labels already known to be a vector), and a failure
    stops the call with "SIGNATURE: PROBLEM". Everything computed from the returned
    tensors waits for the checks, so no kernel ever sees a bad input."""
    passed = []
    for condition, problem in checks:
        with tf.control_dependencies(passed):
            passed = [tf.debugging.Assert(condition(), [f"{signature}: {problem}"])]
    with tf.control_dependencies(passed):
        return tuple(tf.identity(x) for x in inputs)


def _has_shape(x, shape):
    """Whether `x` has exactly len(`shape`) axes, of the sizes `shape` gives (None: any).

    Read from the values of the runtime shape, padded with -1 past its end (an axis
    there means too many axes, a -1 inside too few): `tf.rank` of a tensor whose rank
    the trace knows is a constant, which would pass whatever arrives. (The leading axis
    is unknown in every signature checked here, and then neither tracing nor Grappler
    folds `tf.shape`: tests/serving_test.py sends ranks 2, 3 and 5. A declared scalar's
    shape is fully known and Grappler folds a check of it to "passed" (measured), so
    scalars are not shape-checked: TensorFlow itself refuses an array there.)"""
    assert shape, "scalars: see above"
    rank = len(shape)
    padded = tf.concat([tf.shape(x), tf.fill([rank + 1], -1)], 0)
    ok = tf.logical_and(tf.equal(padded[rank], -1), padded[rank - 1] >= 0)
    for axis, size in enumerate(shape):
        if size is not None:
            ok = tf.logical_and(ok, tf.equal(padded[axis], size))
    return ok


# A served call's image count is bounded: 10**6 Omniglot images took 14.4 GB in one call
# and 10**7 killed the process; more images come from several calls with other seeds.
MAX_IMAGES_PER_CALL = 10000


def _count_checks(name, x):
    """A scalar image count: at least one image, at most MAX_IMAGES_PER_CALL."""
    return [(lambda: x >= 1, f"{name} must be >= 1"),
            (lambda: x <= MAX_IMAGES_PER_CALL,
             f"{name} must be <= {MAX_IMAGES_PER_CALL} a call (ask in several calls, with "
             "other seeds)")]


def _image_checks(name, images, image_shape, batch="S"):
    """A batch of images [batch, H, W, C], non-empty, every pixel finite and in [0, 1]."""
    dims = ", ".join(str(d) for d in image_shape)
    return [
        (lambda: _has_shape(images, [None] + list(image_shape)),
         f"{name} must be [{batch}, {dims}]"),
        (lambda: tf.shape(images)[0] >= 1, f"{name} is empty"),
        (lambda: tf.reduce_all(tf.math.is_finite(images)),
         f"{name} must be finite (a NaN or inf pixel)"),
        (lambda: tf.reduce_all((images >= 0.0) & (images <= 1.0)), f"{name} must lie in [0, 1]"),
    ]


def _label_checks(labels, images, ways=None):
    """Support labels: one per support image, 0..N-1 with every class present (N any,
    or `ways` for a network with a fixed head): a class without support has no answer."""
    def classes_ok():
        count = tf.reduce_max(labels) + 1
        ok = tf.logical_and(tf.reduce_min(labels) >= 0,
                            tf.equal(tf.size(tf.unique(labels).y), count))
        return ok if ways is None else tf.logical_and(ok, tf.equal(count, ways))

    classes = "0..N-1 with every class present"
    if ways is not None:
        classes += f", N = {ways}, the ways of this model"
    return [
        (lambda: tf.logical_and(_has_shape(labels, [None]),
                                tf.equal(tf.size(labels), tf.shape(images)[0])),
         "support_labels must be [S]: one label per support image"),
        (classes_ok, f"support_labels must be {classes}"),
    ]


def export_classifier(learner, path: str) -> str:
    """Two signatures with the same inputs `(support_images, support_labels,
    query_images)` and outputs `{logits, predictions}`:

      classify       each query answered alone: its logits depend on the support set and
                     that query only (BatchNorm by the support set's moments), so one
                     query per call, unbalanced or single-class requests get the answer
                     the query gets inside a whole task. eval.json's `accuracy`.
      classify_task  the queries of ONE task answered together (BatchNorm by the moments
                     of support and queries, as in training; ProtoNets also refines its
                     prototypes with them, `meta.transductive_steps`): for callers that
                     send a whole balanced task. eval.json's `task_accuracy`.

    The learner's evaluation-time adaptation runs inside the graph (MAML / Reptile:
    `eval.inner_steps` gradient steps on the support set, from a head made for the task's
    N classes by `meta.head_init`, fewgen_tf/meta/heads.py; ProtoNets: prototypes), so a
    served model classifies a new task from its support set alone. Labels of the
    support set are 0..N-1, every class present: any N, except N = the learner's
    `task_ways` where its head is fixed (`meta.head_init='learned'`); `logits` are
    [num_queries, N]. Inputs are checked first (`checked_inputs`; the contract:
    export/README.md).
    """
    image_shape = list(learner.image_shape)
    signature = [
        tf.TensorSpec([None] + image_shape, tf.float32, name="support_images"),
        tf.TensorSpec([None], tf.int32, name="support_labels"),
        tf.TensorSpec([None] + image_shape, tf.float32, name="query_images"),
    ]

    def answer(name, transductive):
        def classify(support_images, support_labels, query_images):
            support_images, support_labels, query_images = checked_inputs(
                name,
                _image_checks("support_images", support_images, image_shape, "S")
                + _image_checks("query_images", query_images, image_shape, "Q")
                + _label_checks(support_labels, support_images, learner.task_ways),
                support_images, support_labels, query_images)
            weights, non_trainable = learner.current_weights()
            logits = learner.task_logits(weights, non_trainable, support_images,
                                         support_labels, query_images, training=False,
                                         transductive=transductive)
            return {"logits": logits,
                    "predictions": tf.argmax(logits, -1, output_type=tf.int32)}
        return tf.function(classify, input_signature=signature)

    archive = keras.export.ExportArchive()
    archive.track(learner.net)  # the variables the signatures read
    archive.add_endpoint("classify", answer("classify", transductive=False))
    archive.add_endpoint("classify_task", answer("classify_task", transductive=True))
    return _write(archive, path, "classifier with signatures classify, classify_task")


# The parts of TensorFlow's SavedModel fingerprint that do not depend on the process:
# the signatures, the object graph and the variables. saved_model.pb itself differs
# between two exports of the same model (its function names carry process-wide
# counters), the checksum with it; and the fingerprint's graph_def_program_hash does
# NOT see the bodies of the traced functions (measured: a ProtoNets classifier with and
# without transductive refinement hashed alike, so a changed export was "kept"), hence
# `program_digest`.
_PROGRAM_HASHES = ("signature_def_hash", "saved_object_graph_hash", "checkpoint_hash")
_NAME_NUMBER = re.compile(rb"(?<=[A-Za-z0-9])_(\d+)")  # the N of "..._N" inside a name


def _text(message) -> bytes:
    from google.protobuf import text_format

    return text_format.MessageToString(message).encode()


def program_digest(path: str) -> str:
    """SHA-256 of a SavedModel's graph with every traced function body, independent of
    the process that wrote it. TensorFlow names functions (`__inference_NAME_N`, the
    `while_body_N` of a loop), the arguments through which they capture tensors
    (`shape_N`, `while_shape_N_0`) and layers after process-wide counters, which differ
    between a run that trained before it exported and a rerun that restored: every
    `_N` inside a name is replaced by the rank of N among all of them (the same program
    traces the same names in the same order), and the function library is hashed as a
    sorted set (its order follows the names). Arguments' `_user_specified_name`
    attributes are left out (counters too; the signature's input names are in the
    fingerprint's signature_def_hash)."""
    from tensorflow.core.protobuf import saved_model_pb2

    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        model = saved_model_pb2.SavedModel.FromString(f.read())
    pieces = []
    for graph in model.meta_graphs:
        library = graph.graph_def.library
        for function in library.function:
            for attributes in function.arg_attr.values():
                if "_user_specified_name" in attributes.attr:
                    del attributes.attr["_user_specified_name"]
        # (text format: renaming inside the binary form would leave its length prefixes
        # telling the counters' digit counts apart; text format sorts map entries)
        functions = [_text(f) for f in library.function]
        gradients = [_text(g) for g in library.gradient]
        graph.graph_def.ClearField("library")
        pieces.append((functions, gradients, _text(graph)))
    numbers = sorted({int(m.group(1)) for functions, gradients, rest in pieces
                      for piece in functions + gradients + [rest]
                      for m in _NAME_NUMBER.finditer(piece)})
    rank = {n: b"_#%d" % i for i, n in enumerate(numbers)}

    def renamed(serialized: bytes) -> bytes:
        return _NAME_NUMBER.sub(lambda m: rank[int(m.group(1))], serialized)

    digest = hashlib.sha256()
    for functions, gradients, rest in pieces:
        for piece in (sorted(renamed(f) for f in functions)
                      + sorted(renamed(g) for g in gradients) + [renamed(rest)]):
            digest.update(hashlib.sha256(piece).digest())
    return digest.hexdigest()


def same_saved_model(path_a: str, path_b: str) -> bool:
    """Whether two SavedModel directories hold the same program (`program_digest`:
    every traced function body), signatures, object graph and variables (TensorFlow's
    fingerprint.pb); False when either has no fingerprint or cannot be read."""
    try:
        a, b = (tf.saved_model.experimental.read_fingerprint(p) for p in (path_a, path_b))
        if not all(getattr(a, h) == getattr(b, h) for h in _PROGRAM_HASHES):
            return False
        return program_digest(path_a) == program_digest(path_b)
    except (tf.errors.OpError, OSError, ValueError):
        return False


def _write(archive, path, what):
    """Write the SavedModel beside `path` and move it into place whole
    (`workdir.replace_directory`): a killed export never leaves half a model where a
    server would load it, and an existing export stays until the new one is complete.
    An export identical to the one already there (`same_saved_model`: an unchanged
    rerun of a finished run) leaves that one as it was, byte for byte."""
    existed = os.path.isdir(path) and bool(os.listdir(path))
    kept = []

    def same(temporary, old):
        kept.append(same_saved_model(temporary, old))
        return kept[-1]

    def write(temporary):
        with variables_in_fixed_order():
            archive.write_out(temporary, verbose=False)

    workdir_lib.commit_config(path)  # an export: the run's config.json first
    workdir_lib.replace_directory(write, path, same=same)
    if kept and kept[-1]:
        logging.info("the %s in %s is unchanged: kept", what, path)
    else:
        if existed:
            logging.warning("replaced the export in %s (its program or weights changed)", path)
        logging.info("exported %s to %s", what, path)
    return path


def export_generator(generator, path: str) -> str:
    """`decode(latents [N, d]) -> {images}` and `sample(num_images, seed) -> {images}`.

    `sample` draws `num_images` latents from the generator's `sample_latents` with the
    stateless seed (seed, 0): the same seed gives the same images on every call and
    server. A class-conditional generator (with `sample_class` and `num_clusters`) also
    gets `sample_class(class_index int32, num_images int32, seed int64) -> {images}`.
    Inputs are checked (`checked_inputs`): latents [N >= 1, d] and finite, `num_images`
    >= 1, `class_index` in 0..num_clusters-1.
    """
    latent_dim = generator.latent_dim

    def decode(latents):
        latents, = checked_inputs("decode", [
            (lambda: _has_shape(latents, [None, latent_dim]),
             f"latents must be [N, {latent_dim}]"),
            (lambda: tf.shape(latents)[0] >= 1, "latents is empty"),
            (lambda: tf.reduce_all(tf.math.is_finite(latents)), "latents must be finite"),
        ], latents)
        return {"images": generator.decode(latents)}

    def sample(num_images, seed):
        num_images, seed = checked_inputs(
            "sample", _count_checks("num_images", num_images), num_images, seed)
        seed_pair = seeds.seed_pair(seed)
        return {"images": generator.decode(generator.sample_latents(num_images, seed_pair))}

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("decode", tf.function(decode, input_signature=[
        tf.TensorSpec([None, latent_dim], tf.float32, name="latents")]))
    archive.add_endpoint("sample", tf.function(sample, input_signature=[
        tf.TensorSpec([], tf.int32, name="num_images"), tf.TensorSpec([], tf.int64, name="seed")]))
    what = "generator (decode, sample)"
    if hasattr(generator, "sample_class"):  # class-conditional (COLA clusters, sCOLA)
        classes = int(generator.num_clusters)  # COLA's clusters, sCOLA's classes

        def sample_class(class_index, num_images, seed):
            class_index, num_images, seed = checked_inputs(
                "sample_class", [(lambda: (class_index >= 0) & (class_index < classes),
                                  f"class_index must be in 0..{classes - 1}")]
                + _count_checks("num_images", num_images), class_index, num_images, seed)
            return {"images": generator.sample_class(class_index, num_images, seed)}

        archive.add_endpoint("sample_class", tf.function(sample_class, input_signature=[
            tf.TensorSpec([], tf.int32, name="class_index"),
            tf.TensorSpec([], tf.int32, name="num_images"),
            tf.TensorSpec([], tf.int64, name="seed")]))
        what = "generator (decode, sample, sample_class)"
    return _write(archive, path, what)


def export_task_sampler(sampler, path: str) -> str:
    """`sample_task(seed) -> {support_images, support_labels, query_images, query_labels}`:
    task 0 of the LASIUM stream `seed`, identical for the same seed."""

    def sample_task(seed):
        return dict(sampler.sample_task(seed, 0))

    archive = keras.export.ExportArchive()
    archive.track(sampler.generator)
    archive.add_endpoint("sample_task", tf.function(sample_task, input_signature=[
        tf.TensorSpec([], tf.int64, name="seed")]))
    return _write(archive, path, "task sampler (sample_task)")


def export_fewshot_generator(generator, image_shape, path: str) -> str:
    """`generate(seed_images [S,H,W,C] float32, num_images int32, seed int32) -> {images
    [num_images,H,W,C]}` in [0, 1]: new images of the seeds' class, deterministic per
    seed. Methods that adapt to the seeds (Meta-FAVAE) adapt inside this graph.

    Seed images must be [S >= 1, H, W, C] with every pixel finite and in [0, 1], and
    `num_images` >= 1 (`checked_inputs`)."""
    image_shape = list(image_shape)

    def generate(seed_images, num_images, seed):
        seed_images, num_images, seed = checked_inputs(
            "generate", _image_checks("seed_images", seed_images, image_shape, "S")
            + _count_checks("num_images", num_images), seed_images, num_images, seed)
        images = generator.generate(seed_images, num_images, seed)
        return {"images": tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0)}

    archive = keras.export.ExportArchive()
    if isinstance(generator, keras.layers.Layer):
        archive.track(generator)
    archive.add_endpoint("generate", tf.function(generate, input_signature=[
        tf.TensorSpec([None] + image_shape, tf.float32, name="seed_images"),
        tf.TensorSpec([], tf.int32, name="num_images"),
        tf.TensorSpec([], tf.int32, name="seed")]))
    return _write(archive, path, "few-shot generator (generate)")
