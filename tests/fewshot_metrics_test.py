"""Few-shot accuracy statistics against a hand computation."""

import json

import numpy as np
import pytest

from fewgen_tf.errors import DataError
from fewgen_tf.metrics import fewshot


def test_mean_and_ci95_by_hand():
    accuracies = [0.6, 0.8, 1.0, 0.8]
    # mean 0.8; population std = sqrt((0.04 + 0 + 0.04 + 0) / 4) = 0.1414...
    summary = fewshot.accuracy_summary(accuracies)
    assert summary["mean"] == pytest.approx(0.8)
    assert summary["std"] == pytest.approx(np.sqrt(0.02))
    assert summary["ci95"] == pytest.approx(1.96 * np.sqrt(0.02) / 2.0)
    assert summary["n"] == 4
    assert fewshot.format_accuracy(summary) == "80.00% +- 13.86% (n=4)"


def test_eval_json(tmp_path):
    result = fewshot.write_eval_json(str(tmp_path), np.ones(10), ways=5, shots=1, queries=15,
                                     seed=42, split="test")
    on_disk = json.loads((tmp_path / "eval.json").read_text())
    assert on_disk == result
    assert on_disk == {"mean": 1.0, "ci95": 0.0, "std": 0.0, "n": 10, "ways": 5, "shots": 1,
                       "queries": 15, "seed": 42, "split": "test"}


def test_bad_accuracies():
    with pytest.raises(DataError, match="at least one"):
        fewshot.accuracy_summary([])
    with pytest.raises(DataError, match=r"fractions in \[0, 1\]"):
        fewshot.accuracy_summary([0.5, 97.0])
