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
    workdir_lib.commit_config(workdir)  # a result: the run's config.json first
    workdir_lib.write_json(os.path.join(workdir, "eval.json"), result, indent=2,
                           sort_keys=True)
    return result


def format_accuracy(summary: dict) -> str:
    """'97.12% +- 0.34% (n=1000)': the way the papers' tables print it."""
    return f"{100 * summary['mean']:.2f}% +- {100 * summary['ci95']:.2f}% (n={summary['n']})"


def paired_difference(first, second) -> dict:
    """Mean and CI95 of `first - second` over the SAME tasks (per-task accuracies in the
    same order): 1.96 * std / sqrt(n) of the per-task differences, narrower than the two
    intervals side by side because the tasks' own difficulty cancels."""
    a = np.asarray(first, np.float64).reshape(-1)
    b = np.asarray(second, np.float64).reshape(-1)
    if a.size != b.size or a.size == 0:
        raise DataError(f"a paired difference needs the same non-zero number of tasks on "
                        f"both sides, got {a.size} and {b.size}")
    d = a - b
    std = float(d.std())
    return {"mean": float(d.mean()), "ci95": 1.96 * std / float(np.sqrt(d.size)), "std": std,
            "n": int(d.size)}


def comparison_summary(rows: dict, tasks: dict) -> dict:
    """The `summary.json` of runs evaluated on the same test tasks: `rows` maps a name to
    (per-task accuracies, a dict of what that row is); `tasks` describes the tasks
    (split, ways, shots, queries, seed). Every row gets its mean and CI95; the first row
    also its paired difference to each other row ('lasium - untrained')."""
    names = list(rows)
    sizes = {name: np.asarray(rows[name][0]).size for name in names}
    if len(set(sizes.values())) != 1:
        raise DataError(f"rows compared on the same tasks need the same number of tasks, "
                        f"got {sizes}")
    first = names[0]
    return {
        "tasks": dict(tasks, n=sizes[first]),
        "rows": {name: dict(accuracy_summary(acc), **about) for name, (acc, about) in rows.items()},
        "differences": {f"{first} - {other}": paired_difference(rows[first][0], rows[other][0])
                        for other in names[1:]},
    }


def write_summary_json(workdir: str, summary: dict) -> str:
    """Write `summary.json` (whole, like eval.json); returns its path."""
    path = os.path.join(workdir, "summary.json")
    os.makedirs(workdir, exist_ok=True)
    workdir_lib.commit_config(workdir)  # a result: the run's config.json first
    workdir_lib.write_json(path, summary, indent=2, sort_keys=False)
    return path


def format_comparison(summary: dict) -> list:
    """The comparison as lines to print: a row per run, then the paired differences."""
    tasks = summary["tasks"]
    lines = [f"comparison on the same {tasks['n']} {tasks['split']} tasks ({tasks['ways']}-way "
             f"{tasks['shots']}-shot, {tasks['queries']} queries, eval.seed {tasks['seed']}):"]
    not_run = summary.get("not_run", {})
    width = max(len(name) for name in list(summary["rows"]) + list(not_run))
    for name, row in summary["rows"].items():
        lines.append(f"  {name:<{width}}  {100 * row['mean']:6.2f}% +- {100 * row['ci95']:.2f}%"
                     f"  {row.get('what', '')}")
    for name, why in not_run.items():
        lines.append(f"  {name:<{width}}  not run: {why}")
    for name, d in summary["differences"].items():
        lines.append(f"  {name}: {100 * d['mean']:+.2f} points +- {100 * d['ci95']:.2f} "
                     f"(paired over the same tasks)")
    return lines
