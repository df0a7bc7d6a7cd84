"""SavedModels with named serving signatures, in TF Serving's directory layout.

Exports land in `workdir/export/NAME/VERSION/` (TF Serving loads the highest VERSION
under `export/NAME`). Every signature takes and returns named tensors, images float32
in [0, 1], and runs with `tf.saved_model.load` alone: no fewgen_tf import is needed.
"""

import os

import keras
import tensorflow as tf
from absl import logging

from fewgen_tf import seeds
from fewgen_tf import workdir as workdir_lib


def export_dir(workdir: str, name: str, version: int) -> str:
    return os.path.join(workdir, "export", name, str(int(version)))


def export_classifier(learner, path: str) -> str:
    """`classify(support_images, support_labels, query_images) -> {logits, predictions}`.

    The learner's evaluation-time adaptation runs inside the graph (MAML / Reptile:
    `eval.inner_steps` gradient steps on the support set; ProtoNets: prototypes), so a
    served model classifies a new task from its support set alone. Labels of the
    support set are 0..N-1; `logits` are [num_queries, N].
    """
    image_shape = list(learner.image_shape)
    signature = [
        tf.TensorSpec([None] + image_shape, tf.float32, name="support_images"),
        tf.TensorSpec([None], tf.int32, name="support_labels"),
        tf.TensorSpec([None] + image_shape, tf.float32, name="query_images"),
    ]

    def classify(support_images, support_labels, query_images):
        weights, non_trainable = learner.current_weights()
        logits = learner.task_logits(weights, non_trainable, support_images, support_labels,
                                     query_images, training=False)
        return {"logits": logits,
                "predictions": tf.argmax(logits, -1, output_type=tf.int32)}

    archive = keras.export.ExportArchive()
    archive.track(learner.net)  # the variables the signature reads
    archive.add_endpoint("classify", tf.function(classify, input_signature=signature))
    return _write(archive, path, "classifier with signature classify")


def _write(archive, path, what):
    """Write the SavedModel beside `path` and move it into place whole
    (`workdir.replace_directory`): a killed export never leaves half a model where a
    server would load it, and an existing export stays until the new one is complete."""
    if os.path.exists(path) and os.listdir(path):
        logging.warning("overwriting the export in %s", path)
    workdir_lib.replace_directory(lambda temporary: archive.write_out(temporary, verbose=False),
                                  path)
    logging.info("exported %s to %s", what, path)
    return path


def export_generator(generator, path: str) -> str:
    """`decode(latents [N, d]) -> {images}` and `sample(num_images, seed) -> {images}`.

    `sample` draws `num_images` latents from the generator's `sample_latents` with the
    stateless seed (seed, 0): the same seed gives the same images on every call and
    server. A class-conditional generator (with `sample_class`) also gets
    `sample_class(class_index int32, num_images int32, seed int64) -> {images}`.
    """
    latent_dim = generator.latent_dim

    def decode(latents):
        return {"images": generator.decode(latents)}

    def sample(num_images, seed):
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
        def sample_class(class_index, num_images, seed):
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

    An empty seed set or `num_images` < 1 stops the call with an error naming the input
    (the signature itself rejects a wrong image shape or dtype)."""
    image_shape = list(image_shape)

    def generate(seed_images, num_images, seed):
        checks = [  # (a loaded signature does not enforce its own static shape)
            tf.debugging.assert_equal(
                tf.shape(seed_images)[1:], tf.constant(image_shape, tf.int32),
                message=f"generate: seed_images must be [S, {', '.join(map(str, image_shape))}]"),
            tf.debugging.assert_positive(tf.shape(seed_images)[0],
                                         message="generate: seed_images is empty"),
            tf.debugging.assert_positive(num_images, message="generate: num_images must be "
                                                             ">= 1"),
        ]
        with tf.control_dependencies(checks):
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
