"""The workdir contract: config.json, metrics.jsonl, samples/*.png, and friends.

Pipelines write through these helpers so every method's workdir looks the same:
  config.json      the resolved config of the run
  metrics.jsonl    one JSON object a line, each with a `step` (or `split`) and values
  eval.json        final few-shot accuracy (see fewgen_tf.metrics.fewshot)
  samples/*.png    pictures of data, tasks and generated images
"""

import json
import os
import time

import numpy as np


def write_config(workdir: str, config) -> str:
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "config.json")
    with open(path, "w") as f:
        f.write(config.to_json_best_effort(indent=2, sort_keys=True) + "\n")
    return path


def append_metrics(workdir: str, record: dict) -> None:
    """Append one record to metrics.jsonl, with a wall-clock timestamp."""
    os.makedirs(workdir, exist_ok=True)
    record = dict(record, time=round(time.time(), 3))
    with open(os.path.join(workdir, "metrics.jsonl"), "a") as f:
        f.write(json.dumps(record, sort_keys=True, default=_to_builtin) + "\n")


def read_metrics(workdir: str) -> list:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to metrics.jsonl")


def save_png(workdir: str, name: str, image: np.ndarray) -> str:
    """Save an HWC float image in [0, 1] as `workdir/samples/name`."""
    import tensorflow as tf  # late import: config handling stays TensorFlow-free

    directory = os.path.join(workdir, "samples")
    os.makedirs(directory, exist_ok=True)
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    path = os.path.join(directory, name)
    tf.io.write_file(path, tf.io.encode_png(pixels))
    return path
