"""fewgen_tf/metrics/lake_runs.py: Lake-style runs are within one alphabet, with the
support and query drawings of a character by distinct drawers, labels consistent."""

import numpy as np

from fewgen_tf.data.class_dataset import ClassDataset
from fewgen_tf.metrics import lake_runs as lake


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


def test_score_runs_averages_over_runs_and_per_alphabet():
    """A classify that reads each image's class right on Alpha's runs and answers a wrong
    label on Beta's: accuracy 1 and 0 per alphabet, 0.5 over the runs."""
    import tensorflow as tf

    dataset = _dataset()
    runs = lake.make_runs(dataset, lake.evaluation_alphabets(dataset), runs=4, ways=3,
                          shots=1, seed=0)

    def classify(support_images, support_labels, query_images):
        support = np.round(support_images.numpy()[:, 0, 0, 0] * 100).astype(int)
        label_of = dict(zip(support, support_labels.numpy()))
        queries = np.round(query_images.numpy()[:, 0, 0, 0] * 100).astype(int)
        right = np.array([label_of[c] for c in queries], np.int32)
        wrong = (right + 1) % 3
        return {"predictions": tf.constant(np.where(queries < 12, right, wrong))}

    scores = lake.score_runs(classify, runs)
    assert scores["by_alphabet"] == {"Alpha": 1.0, "Beta": 0.0}
    assert scores["mean"] == 0.5 and scores["error_rate"] == 0.5 and scores["n"] == 4
