"""ProtoNets logits and Reptile's outer update against hand computations."""

import keras
import numpy as np
import tensorflow as tf

from fewgen_tf.meta.protonets import ProtoNets, prototype_logits
from fewgen_tf.meta.reptile import Reptile


def test_prototype_logits_by_hand():
    support = tf.constant([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 2.0]])
    labels = tf.constant([0, 0, 1, 1])
    query = tf.constant([[1.0, 1.0], [0.0, 3.0]])
    # prototypes (1, 0) and (0, 3); squared distances SUMMED over features.
    logits = prototype_logits(support, labels, query, 2).numpy()
    np.testing.assert_allclose(logits, [[-1.0, -5.0], [-10.0, 0.0]])


def test_protonets_task_logits_use_the_network_embedding():
    net = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Flatten()])  # identity embedding
    model = ProtoNets(net, 2)
    support = tf.reshape(tf.constant([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 2.0]]),
                         (4, 1, 2, 1))
    query = tf.reshape(tf.constant([[1.0, 1.0]]), (1, 1, 2, 1))
    weights, non_trainable = model.current_weights()
    logits = model.task_logits(weights, non_trainable, support, tf.constant([0, 0, 1, 1]),
                               query, training=False)
    np.testing.assert_allclose(logits.numpy(), [[-1.0, -5.0]])


def test_transductive_prototypes_by_hand():
    """One soft k-means step (Ren et al. 2018 eq. 1-2) computed by hand; training
    ignores it."""
    support = np.array([[0.0, 0.0], [0.0, 2.0]])
    labels = np.array([0, 1])
    query = np.array([[0.0, 0.5], [1.0, 2.0]])
    # By hand: weights softmax(-|q - p|^2) against the support prototypes, then each
    # prototype = (its support + weighted queries) / (1 + summed weights).
    p = support.copy()
    for _ in range(2):
        d = ((query[:, None, :] - p[None]) ** 2).sum(-1)
        w = _softmax(-d)
        p = (support + w.T @ query) / (1 + w.sum(0))[:, None]
    expected = -((query[:, None, :] - p[None]) ** 2).sum(-1)
    logits = prototype_logits(tf.constant(support), tf.constant(labels), tf.constant(query), 2,
                              transductive_steps=2).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-6)
    plain = prototype_logits(tf.constant(support), tf.constant(labels), tf.constant(query), 2)
    np.testing.assert_allclose(plain.numpy(), [[-0.25, -2.25], [-5.0, -1.0]])

    net = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Flatten()])
    model = ProtoNets(net, 2, transductive_steps=2)
    weights, non_trainable = model.current_weights()
    args = (weights, non_trainable, tf.reshape(tf.constant(support, tf.float32), (2, 1, 2, 1)),
            tf.constant(labels, tf.int32), tf.reshape(tf.constant(query, tf.float32), (2, 1, 2, 1)))
    np.testing.assert_allclose(model.task_logits(*args, training=False,
                                                 transductive=True).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(model.task_logits(*args, training=True).numpy(), plain.numpy(),
                               rtol=1e-6)
    # the inductive answer (classify) never refines
    np.testing.assert_allclose(model.task_logits(*args, training=False).numpy(), plain.numpy(),
                               rtol=1e-6)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_reptile_outer_update_by_hand():
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((1, 3, 1), dtype="float64"),
                            keras.layers.Flatten(dtype="float64"),
                            keras.layers.Dense(2, dtype="float64",
                                               kernel_initializer="random_normal")])
    lr, step, inner_steps = 0.3, 0.5, 2
    model = Reptile(net, 2, inner_lr=lr, inner_steps=inner_steps)
    model.compile(optimizer=keras.optimizers.SGD(step))
    r = np.random.default_rng(1)
    episodes = {
        "support_images": r.normal(size=(2, 2, 1, 3, 1)),
        "support_labels": np.array([[0, 1], [0, 1]], np.int32),
        "query_images": r.normal(size=(2, 4, 1, 3, 1)),
        "query_labels": np.array([[0, 0, 1, 1], [1, 0, 1, 0]], np.int32),
    }
    w0, b0 = (v.numpy() for v in net.trainable_variables)
    # By hand: softmax regression, gradient X^T (p - y) / n, SGD on support + query.
    adapted = []
    for t in range(2):
        x = np.concatenate([episodes["support_images"][t], episodes["query_images"][t]])
        x = x.reshape(len(x), -1)
        y = np.eye(2)[np.concatenate([episodes["support_labels"][t],
                                      episodes["query_labels"][t]])]
        w, b = w0.copy(), b0.copy()
        for _ in range(inner_steps):
            p = _softmax(x @ w + b)
            w, b = w - lr * x.T @ (p - y) / len(x), b - lr * (p - y).mean(0)
        adapted.append((w, b))
    expected_w = w0 + step * np.mean([a[0] - w0 for a in adapted], 0)
    expected_b = b0 + step * np.mean([a[1] - b0 for a in adapted], 0)
    model.train_step({k: tf.constant(v) for k, v in episodes.items()})
    np.testing.assert_allclose(net.trainable_variables[0].numpy(), expected_w, rtol=1e-10)
    np.testing.assert_allclose(net.trainable_variables[1].numpy(), expected_b, rtol=1e-10)


def test_config_checks_of_transductive_steps():
    import pytest

    from fewgen_tf import config as config_lib
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.errors import ConfigError

    config = add_meta_learning(base_config(), "protonets")
    assert config.meta.transductive_steps == 0
    config.meta.transductive_steps = 3
    config_lib.check_config(config)
    config.meta.transductive_steps = -1
    with pytest.raises(ConfigError, match="meta.transductive_steps"):
        config_lib.check_config(config)
    config = add_meta_learning(base_config(), "maml")
    config.meta.transductive_steps = 2
    with pytest.raises(ConfigError, match="meta.transductive_steps is a test-time option of "
                                          "ProtoNets' prototypes; meta.algorithm is 'maml'"):
        config_lib.check_config(config)


def test_exported_signatures_answer_as_evaluation_does(tmp_path):
    """The served classifier and the evaluation answer a task with the same logits (one
    code path: task_logits with training=False): `classify_task` refines the prototypes,
    `classify` does not."""
    from fewgen_tf import export
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.meta import factory

    config = add_meta_learning(base_config(), "protonets")
    config.meta.filters = 4
    config.meta.transductive_steps = 3
    learner = factory.build_learner(config, (28, 28, 1))
    r = np.random.default_rng(3)
    support = r.uniform(size=(3, 28, 28, 1)).astype(np.float32)
    labels = np.array([0, 1, 2], np.int32)
    query = r.uniform(size=(6, 28, 28, 1)).astype(np.float32)
    path = export.export_classifier(learner, str(tmp_path / "classifier"))
    signatures = tf.saved_model.load(path).signatures
    inputs = dict(support_images=tf.constant(support), support_labels=tf.constant(labels),
                  query_images=tf.constant(query))
    weights, non_trainable = learner.current_weights()
    for name, transductive in (("classify", False), ("classify_task", True)):
        served = signatures[name](**inputs)["logits"].numpy()
        direct = learner.task_logits(weights, non_trainable, support, labels, query,
                                     training=False, transductive=transductive).numpy()
        np.testing.assert_allclose(served, direct, rtol=1e-4, atol=1e-4)
    plain = learner.task_logits(weights, non_trainable, support, labels, query,
                                training=True).numpy()
    refined = learner.task_logits(weights, non_trainable, support, labels, query,
                                  training=False, transductive=True).numpy()
    assert not np.allclose(refined, plain)  # the refinement changed the logits
