"""Lake et al.'s (2015) one-shot classification runs: N-way within ONE alphabet.

Lake et al. score one-shot classification on 20 runs, each 20 characters of one
evaluation alphabet with the support and query drawings by different drawers. Their run
files are not part of the Omniglot data, so `make_runs` builds runs by the same rule from
the evaluation characters (official ids 965..1623, alphabets from alphabets.tsv), seeded.
Such runs are harder than N-way tasks over all 659 evaluation characters (the classes look
alike); `score_runs` answers them with any `classify`, e.g. an exported classifier's
signature (experiments/lake_oneshot_runs.py).
"""

import numpy as np
import tensorflow as tf

from fewgen_tf.data import omniglot
from fewgen_tf.errors import ConfigError, DataError
from fewgen_tf.metrics import fewshot

NUM_DRAWERS = 20  # every Omniglot character is drawn once by each of 20 people


def evaluation_alphabets(dataset):
    """{alphabet: [class index, ...]} of the evaluation characters, alphabet names from
    the dataset's class names ('Alphabet/characterNN', from alphabets.tsv)."""
    alphabets = {}
    for index, (key, name) in enumerate(zip(dataset.class_keys, dataset.class_names)):
        if omniglot.is_background(key):
            continue
        if "/" not in name:
            raise DataError("the Omniglot data has no alphabets.tsv beside it: "
                            "runs need the characters' alphabets")
        alphabets.setdefault(name.split("/")[0], []).append(index)
    return dict(sorted(alphabets.items()))


def make_runs(dataset, alphabets, runs, ways, shots, seed):
    """[(alphabet, support [W*S, H, W, C], support labels, queries [W, ...], query labels)]:
    run r draws from alphabet r mod len(alphabets); drawers distinct within a run."""
    rng = np.random.default_rng(seed)
    names = list(alphabets)
    first_image = np.searchsorted(dataset.labels, np.arange(dataset.num_classes))
    made = []
    for run in range(runs):
        alphabet = names[run % len(names)]
        members = alphabets[alphabet]
        if len(members) < ways:
            raise ConfigError(f"alphabet {alphabet} has {len(members)} characters, "
                              f"fewer than ways={ways}")
        characters = rng.choice(members, ways, replace=False)
        drawers = rng.choice(NUM_DRAWERS, shots + 1, replace=False)
        labels = rng.permutation(ways).astype(np.int32)
        support = [first_image[c] + d for d in drawers[:shots] for c in characters]
        queries = [first_image[c] + drawers[shots] for c in characters]
        made.append((alphabet, dataset.images[support], np.tile(labels, shots),
                     dataset.images[queries], labels))
    return made


def score_runs(classify, runs) -> dict:
    """The accuracy of `classify(support_images=, support_labels=, query_images=)`, which
    returns {"predictions": [W]}, over `runs` (`make_runs`): mean and CI95 over the runs
    (`fewshot.accuracy_summary`), the error rate, and the mean accuracy per alphabet."""
    accuracies, by_alphabet = [], {}
    for alphabet, support, support_labels, queries, query_labels in runs:
        answer = classify(support_images=tf.constant(support),
                          support_labels=tf.constant(support_labels),
                          query_images=tf.constant(queries))
        accuracy = float(np.mean(answer["predictions"].numpy() == query_labels))
        accuracies.append(accuracy)
        by_alphabet.setdefault(alphabet, []).append(accuracy)
    summary = fewshot.accuracy_summary(accuracies)
    return dict(summary, error_rate=1.0 - summary["mean"],
                by_alphabet={a: float(np.mean(v)) for a, v in by_alphabet.items()})
