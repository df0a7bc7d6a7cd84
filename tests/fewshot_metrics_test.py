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


def test_paired_difference_by_hand():
    # differences 0.2, 0.0, 0.2, 0.0: mean 0.1, population std 0.1
    d = fewshot.paired_difference([0.8, 0.6, 1.0, 0.4], [0.6, 0.6, 0.8, 0.4])
    assert d["mean"] == pytest.approx(0.1) and d["std"] == pytest.approx(0.1)
    assert d["ci95"] == pytest.approx(1.96 * 0.1 / 2.0) and d["n"] == 4
    with pytest.raises(DataError, match="same non-zero number of tasks"):
        fewshot.paired_difference([0.5, 0.5], [0.5])


def test_comparison_summary_rows_on_the_same_tasks(tmp_path):
    tasks = {"split": "test", "ways": 5, "shots": 1, "queries": 15, "seed": 42}
    rows = {"lasium": ([0.8, 0.6, 1.0, 0.4], {"iterations": 300, "what": "generated tasks"}),
            "untrained": ([0.6, 0.6, 0.8, 0.4], {"iterations": 0, "what": "no training"})}
    summary = fewshot.comparison_summary(rows, tasks)
    assert summary["tasks"] == dict(tasks, n=4)
    assert list(summary["rows"]) == ["lasium", "untrained"]
    assert summary["rows"]["untrained"] == dict(fewshot.accuracy_summary([0.6, 0.6, 0.8, 0.4]),
                                                iterations=0, what="no training")
    assert summary["differences"]["lasium - untrained"]["mean"] == pytest.approx(0.1)
    fewshot.write_summary_json(str(tmp_path), summary)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    lines = fewshot.format_comparison(dict(summary, not_run={"supervised": "a flag adds it"}))
    assert lines == [
        "comparison on the same 4 test tasks (5-way 1-shot, 15 queries, eval.seed 42):",
        "  lasium       70.00% +- 21.91%  generated tasks",
        "  untrained    60.00% +- 13.86%  no training",
        "  supervised  not run: a flag adds it",
        "  lasium - untrained: +10.00 points +- 9.80 (paired over the same tasks)"]
    with pytest.raises(DataError, match="same number of tasks"):
        fewshot.comparison_summary({"a": ([1.0], {}), "b": ([1.0, 0.0], {})}, tasks)
