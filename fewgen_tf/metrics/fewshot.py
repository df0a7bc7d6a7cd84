"""Few-shot accuracy over tasks: mean and the field's 95% confidence interval."""

import os

import numpy as np

from fewgen_tf import workdir as workdir_lib
from fewgen_tf.errors import DataError


def accuracy_summary(task_accuracies) -> dict:
    """Mean accuracy and CI95 = 1.96 * std / sqrt(n) over n tasks.

    `std` is the population standard deviation (numpy's default, ddof=0), as in the
    LASIUM / MAML reference code, so reported intervals are comparable with the papers'.
    """
    acc = np.asarray(task_accuracies, np.float64).reshape(-1)
    if acc.size == 0:
        raise DataError("accuracy_summary needs at least one task accuracy")
    if np.any(~np.isfinite(acc)) or np.any(acc < 0) or np.any(acc > 1):
        raise DataError("task accuracies must be finite fractions in [0, 1]")
    std = float(acc.std())
    return {"mean": float(acc.mean()), "ci95": 1.96 * std / float(np.sqrt(acc.size)),
            "std": std, "n": int(acc.size)}


def write_eval_json(workdir: str, task_accuracies, *, ways: int, shots: int, queries: int,
                    seed: int, **extra) -> dict:
    """Write `eval.json` (accuracy summary plus the episode settings) and return it."""
    result = dict(accuracy_summary(task_accuracies), ways=int(ways), shots=int(shots),
                  queries=int(queries), seed=int(seed), **extra)
    os.makedirs(workdir, exist_ok=True)
    workdir_lib.write_json(os.path.join(workdir, "eval.json"), result, indent=2,
                           sort_keys=True)
    return result


def format_accuracy(summary: dict) -> str:
    """'97.12% +- 0.34% (n=1000)': the way the papers' tables print it."""
    return f"{100 * summary['mean']:.2f}% +- {100 * summary['ci95']:.2f}% (n={summary['n']})"
