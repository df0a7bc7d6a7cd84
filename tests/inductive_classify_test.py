"""Inductive answers (issue 42): a query's logits depend on the support set and itself
alone. BatchNorm takes the support set's moments (`adaptation.forward` with
`statistics_rows`), checked by hand, against the whole-batch forward, and through the
exported `classify` with other queries added to the call; `classify_task` answers a
task's queries together."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf import export
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.meta import adaptation, factory, heads
from fewgen_tf.meta.protonets import ProtoNets
from fewgen_tf.nets import backbones
from fewgen_tf.nets import layers as meta_layers


def test_support_statistics_by_hand():
    """ProtoNets on a network that is one BatchStatNorm: the queries are normalised by
    the support set's mean and variance, per channel."""
    net = keras.Sequential([keras.Input((1, 1, 2)), meta_layers.BatchStatNorm(1e-3),
                            keras.layers.Flatten()])
    model = ProtoNets(net, 2)
    support = np.array([[0.0, 1.0], [2.0, 5.0]], np.float32)
    query = np.array([[1.0, 3.0], [7.0, -1.0]], np.float32)
    mean, var = support.mean(0), support.var(0)
    normalise = lambda x: (x - mean) / np.sqrt(var + 1e-3)  # noqa: E731
    expected = -((normalise(query)[:, None] - normalise(support)[None]) ** 2).sum(-1)
    weights, non_trainable = model.current_weights()
    logits = model.task_logits(weights, non_trainable, support.reshape(2, 1, 1, 2),
                               tf.constant([0, 1]), query.reshape(2, 1, 1, 2), training=False)
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("backbone", backbones.BACKBONES)
def test_statistics_of_every_row_is_the_plain_forward(backbone):
    """With the moments of ALL rows the layer-by-layer forward is the network's own, for
    every backbone, the classifier and its body + head split (heads.HeadSplitNet)."""
    keras.utils.set_random_seed(0)
    images = tf.constant(np.random.default_rng(0).uniform(size=(7, 28, 28, 1)), tf.float32)
    classifier = backbones.classifier((28, 28, 1), 5, filters=8, backbone=backbone)
    embedding = backbones.embedding((28, 28, 1), filters=8, backbone=backbone)
    for net in (classifier, embedding, heads.HeadSplitNet(classifier)):
        keras_net = classifier if isinstance(net, heads.HeadSplitNet) else net
        weights = [v.value for v in keras_net.trainable_variables]
        non_trainable = [v.value for v in keras_net.non_trainable_variables]
        plain = adaptation.forward(net, weights, non_trainable, images)
        by_rows = adaptation.forward(net, weights, non_trainable, images, statistics_rows=7)
        np.testing.assert_allclose(by_rows.numpy(), plain.numpy(), rtol=1e-4, atol=1e-5)
        first = adaptation.forward(net, weights, non_trainable, images[:3], statistics_rows=3)
        np.testing.assert_allclose(
            adaptation.forward(net, weights, non_trainable, images, statistics_rows=3)[:3],
            first, rtol=1e-4, atol=1e-5)


def _learner(algorithm, **meta):
    config = add_meta_learning(base_config(), algorithm)
    config.meta.filters = 8
    config.eval.inner_steps = 3
    for key, value in meta.items():
        config.meta[key] = value
    return factory.build_learner(config, (28, 28, 1))


@pytest.mark.parametrize("algorithm,meta", [("protonets", {"transductive_steps": 3}),
                                            ("maml", {}), ("maml", {"head_init": "prototypes"})])
def test_exported_classify_answers_each_query_alone(tmp_path, algorithm, meta):
    learner = _learner(algorithm, **meta)
    r = np.random.default_rng(5)
    ways = 5 if meta.get("head_init") != "prototypes" else 4
    support = tf.constant(r.uniform(size=(ways, 28, 28, 1)), tf.float32)
    labels = tf.range(ways, dtype=tf.int32)
    queries = tf.constant(r.uniform(size=(12, 28, 28, 1)), tf.float32)
    signatures = tf.saved_model.load(
        export.export_classifier(learner, str(tmp_path / "classifier"))).signatures

    def logits(name, query_images):
        return signatures[name](support_images=support, support_labels=labels,
                                query_images=query_images)["logits"].numpy()

    together = logits("classify", queries)
    alone = np.concatenate([logits("classify", queries[i:i + 1]) for i in range(12)])
    np.testing.assert_allclose(alone, together, rtol=1e-4, atol=1e-4)
    # more copies of one query (a single-class request) change nothing either
    np.testing.assert_allclose(logits("classify", tf.repeat(queries[:1], 6, axis=0)),
                               np.repeat(together[:1], 6, axis=0), rtol=1e-4, atol=1e-4)
    # the task-level signature answers the queries together: another request, another answer
    task = logits("classify_task", queries)
    assert np.abs(logits("classify_task", queries[:1]) - task[:1]).max() > 1e-3
