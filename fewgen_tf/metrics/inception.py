"""Inception-v3 pool features from a SavedModel directory or hub handle you supply
(nothing is downloaded here), probed for an image input and a pooled output: the
features of a true FID."""

import os

import numpy as np
import tensorflow as tf

from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.metrics.classifier import check_images


INCEPTION_SIZE = 299
# Output names tried, in order, when a signature returns several tensors.
POOLED_OUTPUT_NAMES = ("pool_3", "pool3", "pool", "avg_pool", "feature_vector", "default",
                       "output_0")


class InceptionFeatures:
    """Pooled features of an Inception-v3 SavedModel directory or TF-Hub handle.

    The model must map float32 images [n, 299, 299, 3] with values in [0, 1] (the
    TF-Hub image convention; `input_range` maps [0, 1] linearly onto another range
    for models that expect one, e.g. (-1, 1)) to pooled features [n, d] (or
    [n, 1, 1, d]). Its `serving_default` signature is used when present, otherwise the
    object's own `__call__` (TF2 hub feature-vector modules). Images are resized to
    299 x 299 with bilinear interpolation and grey images repeated to 3 channels.
    Loaded with `tf.saved_model.load` / `tensorflow_hub.load`, never `hub.KerasLayer`
    (a tf-keras layer that breaks under Keras 3). Only with the standard Inception-v3
    pool3 weights is the Frechet distance on these features "FID".
    """

    def __init__(self, path_or_handle: str, batch_size: int = 32, input_range=(0.0, 1.0)):
        handle = os.path.expanduser(str(path_or_handle or ""))
        if not handle:
            raise ConfigError("gen_eval.inception_path is empty: give an Inception-v3 "
                              "SavedModel directory or TF-Hub handle")
        remote = "://" in handle
        if not remote and not os.path.exists(handle):
            raise ConfigError(f"Inception model {handle!r} does not exist")
        if not remote and not os.path.isdir(handle):
            raise ConfigError(f"Inception model {handle!r} is not a SavedModel directory")
        try:
            if remote:
                import tensorflow_hub as hub

                self.module = hub.load(handle)
            else:
                self.module = tf.saved_model.load(handle)
        except (OSError, ValueError, tf.errors.OpError) as e:
            raise ConfigError(f"cannot load the Inception model {handle!r}: "
                              f"{str(e).strip().splitlines()[0]}") from None
        self.handle, self.batch_size = handle, int(batch_size)
        self.low, self.high = (float(v) for v in input_range)
        self.name = f"inception_v3:{handle}"
        self._call, self.entry_point = self._find_callable()
        probe = self._call(tf.zeros([1, INCEPTION_SIZE, INCEPTION_SIZE, 3], tf.float32))
        self._output_name = self._choose_output(probe)
        self.feature_dim = int(self._pooled(probe).shape[-1])

    def _find_callable(self):
        signatures = dict(getattr(self.module, "signatures", None) or {})
        expected = (f"expected a 'serving_default' signature or a __call__ taking float32 "
                    f"images [n, {INCEPTION_SIZE}, {INCEPTION_SIZE}, 3] in [0, 1] and "
                    "returning pooled features [n, d]")
        if "serving_default" in signatures:
            function = signatures["serving_default"]
            inputs = function.structured_input_signature[1]
            specs = list(inputs.values())
            if len(specs) != 1 or not _is_image_spec(specs[0]):
                raise ConfigError(f"{self.handle!r}: its serving_default signature takes "
                                  f"{_describe_inputs(inputs)}; {expected}")
            input_name = list(inputs)[0]
            return (lambda x: function(**{input_name: x})), "serving_default"
        if callable(self.module):
            def call(x):
                try:
                    return self.module(x)
                except (TypeError, ValueError) as e:
                    raise ConfigError(f"{self.handle!r}: calling the model on images [n, "
                                      f"{INCEPTION_SIZE}, {INCEPTION_SIZE}, 3] failed "
                                      f"({str(e).strip().splitlines()[0]}); {expected}") from None
            return call, "__call__"
        found = ", ".join(f"{k}({_describe_inputs(v.structured_input_signature[1])})"
                          for k, v in sorted(signatures.items())) or "no signatures"
        raise ConfigError(f"{self.handle!r} has no serving_default signature and is not "
                          f"callable (found: {found}); {expected}")

    def _choose_output(self, outputs):
        if not isinstance(outputs, dict):
            return None
        if len(outputs) == 1:
            return next(iter(outputs))
        for name in POOLED_OUTPUT_NAMES:
            if name in outputs:
                return name
        raise ConfigError(f"{self.handle!r} returns several outputs "
                          f"({', '.join(sorted(outputs))}) and none is named like pooled "
                          f"features ({', '.join(POOLED_OUTPUT_NAMES)})")

    def _pooled(self, outputs):
        value = outputs[self._output_name] if self._output_name is not None else outputs
        value = tf.convert_to_tensor(value)
        if value.shape.rank == 4 and value.shape[1] == 1 and value.shape[2] == 1:
            value = tf.reshape(value, [-1, value.shape[-1]])
        if value.shape.rank != 2:
            raise ConfigError(f"{self.handle!r} returns features of shape {value.shape}; "
                              "expected pooled features [n, d]")
        return value

    def features(self, images) -> np.ndarray:
        """[n, d] float32 pooled features, in batches of `batch_size`."""
        images = check_images(images)
        if images.shape[-1] not in (1, 3):
            raise DataError(f"Inception features need 1 or 3 channels, got {images.shape[-1]}")
        out = []
        for start in range(0, len(images), self.batch_size):
            x = tf.constant(images[start:start + self.batch_size])
            x = tf.image.resize(x, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
            if x.shape[-1] == 1:
                x = tf.repeat(x, 3, axis=-1)
            x = self.low + (self.high - self.low) * x
            out.append(np.asarray(self._pooled(self._call(x)), np.float32))
        return np.concatenate(out)


def _is_image_spec(spec):
    shape = getattr(spec, "shape", None)
    if shape is None or shape.rank != 4 or getattr(spec, "dtype", None) != tf.float32:
        return False
    return all(dim in (None, want) for dim, want in
               zip(shape[1:], (INCEPTION_SIZE, INCEPTION_SIZE, 3)))


def _describe_inputs(inputs):
    """'name: float32[None, 8], ...' for a signature's input specs."""
    described = []
    for name, spec in sorted(inputs.items()):
        dtype = getattr(getattr(spec, "dtype", None), "name", "?")
        shape = list(spec.shape) if getattr(spec, "shape", None) is not None else "?"
        described.append(f"{name}: {dtype}{shape}")
    return ", ".join(described) or "no inputs"
