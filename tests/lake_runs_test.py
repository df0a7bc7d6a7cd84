"""experiments/lake_oneshot_runs.py: Lake-style runs are within one alphabet, with the
support and query drawings of a character by distinct drawers, labels consistent."""

import importlib.util
import os

import numpy as np

from fewgen_tf.data.class_dataset import ClassDataset

_PATH = os.path.join(os.path.dirname(__file__), "..", "experiments", "lake_oneshot_runs.py")


def _module():
    spec = importlib.util.spec_from_file_location("lake_oneshot_runs", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dataset():
    """3 background + 2 evaluation alphabets of 6 characters, 20 drawers each; every
    pixel of an image encodes (class index, drawer) so a run can be decoded."""
    arrays, names, keys = [], [], []
    for a, (alphabet, first_key) in enumerate([("Bg", 1), ("Alpha", 965), ("Beta", 971)]):
        for c in range(6):
            index = len(arrays)
            images = np.zeros((20, 2, 2, 1), np.float32)
            images[:, 0, 0, 0] = index / 100.0
            images[:, 0, 1, 0] = np.arange(20) / 100.0
            arrays.append(images)
            names.append(f"{alphabet}/character{c + 1:02d}")
            keys.append(first_key + c)
    return ClassDataset.from_class_arrays("omniglot", arrays, names, keys)


def test_runs_stay_in_one_alphabet_with_distinct_drawers():
    lake = _module()
    dataset = _dataset()
    alphabets = lake.evaluation_alphabets(dataset)
    assert list(alphabets) == ["Alpha", "Beta"]  # background characters left out
    runs = lake.make_runs(dataset, alphabets, runs=6, ways=4, shots=2, seed=3)
    for r, (alphabet, support, support_labels, queries, query_labels) in enumerate(runs):
        assert alphabet == ["Alpha", "Beta"][r % 2]
        classes = np.round(support[:, 0, 0, 0] * 100).astype(int)
        drawers = np.round(support[:, 0, 1, 0] * 100).astype(int)
        query_classes = np.round(queries[:, 0, 0, 0] * 100).astype(int)
        query_drawers = np.round(queries[:, 0, 1, 0] * 100).astype(int)
        assert set(classes) <= set(alphabets[alphabet]) and len(set(classes)) == 4
        assert len(set(query_drawers)) == 1 and query_drawers[0] not in set(drawers)
        assert len(set(drawers)) == 2  # two support drawers, each draws every character
        # a character's label is the same in the support set and the queries
        label_of = dict(zip(classes, support_labels))
        assert all(label_of[c] == y for c, y in zip(query_classes, query_labels))
        assert sorted(query_labels) == [0, 1, 2, 3]
    again = lake.make_runs(dataset, alphabets, runs=6, ways=4, shots=2, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(runs, again))
