"""MAML's meta-gradient against central finite differences; FO-MAML; shape errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf.errors import DataError
from fewgen_tf.meta import adaptation
from fewgen_tf.nets import backbones
from fewgen_tf.nets import layers as meta_layers
from fewgen_tf.meta.maml import MAML


def _tiny_net():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((2, 2, 1), dtype="float64"),
                             keras.layers.Flatten(dtype="float64"),
                             keras.layers.Dense(3, dtype="float64",
                                                kernel_initializer="random_normal")])


def _episodes(seed=0, tasks=2):
    r = np.random.default_rng(seed)
    return {
        "support_images": tf.constant(r.normal(size=(tasks, 3, 2, 2, 1))),
        "support_labels": tf.constant(np.tile(np.arange(3, dtype=np.int32), (tasks, 1))),
        "query_images": tf.constant(r.normal(size=(tasks, 6, 2, 2, 1))),
        "query_labels": tf.constant(np.tile(np.repeat(np.arange(3, dtype=np.int32), 2),
                                            (tasks, 1))),
    }


def _meta_loss(model, episodes):
    losses, _ = model.query_losses(episodes)
    return tf.reduce_mean(tf.stack(losses))


def _meta_gradient(model, episodes):
    with tf.GradientTape() as tape:
        loss = _meta_loss(model, episodes)
    return [g.numpy() for g in tape.gradient(loss, model.net.trainable_variables)]


def _assert_meta_gradient_matches_finite_differences(model, episodes, eps=1e-6):
    analytic = _meta_gradient(model, episodes)
    meta_loss = tf.function(lambda: _meta_loss(model, episodes))  # reads the variables
    for variable, grad in zip(model.net.trainable_variables, analytic):
        base = variable.numpy()
        numeric = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[index] += sign * eps
                variable.assign(shifted)
                numeric[index] += sign * float(meta_loss()) / (2 * eps)
            variable.assign(base)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8,
                                   err_msg=f"meta-gradient of {variable.path}")
    return analytic


def test_second_order_meta_gradient_matches_finite_differences():
    _assert_meta_gradient_matches_finite_differences(
        MAML(_tiny_net(), 3, inner_lr=0.5, inner_steps=2), _episodes())


def _float64_backbone(backbone, size, init="torch"):
    keras.utils.set_random_seed(5)
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        return backbones.classifier((size, size, 1), 3, filters=2, backbone=backbone, init=init)
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")


def _image_episodes(size, seed=1):
    r = np.random.default_rng(seed)
    return dict(_episodes(), support_images=tf.constant(r.normal(size=(2, 3, size, size, 1))),
                query_images=tf.constant(r.normal(size=(2, 6, size, size, 1))))


def test_second_order_meta_gradient_is_exact_through_conv_batchnorm_and_max_pooling():
    """Keras' BatchNormalization drops second-order terms (tf.nn.moments stops the
    gradient through the mean in the variance): the backbones' BatchStatNorm must not."""
    net = keras.Sequential([
        keras.Input((4, 4, 1), dtype="float64"),
        keras.layers.Conv2D(2, 3, padding="same", dtype="float64",
                            bias_initializer="random_normal"),
        meta_layers.BatchStatNorm(dtype="float64"),
        keras.layers.ReLU(dtype="float64"), keras.layers.MaxPooling2D(2, dtype="float64"),
        keras.layers.Flatten(dtype="float64"), keras.layers.Dense(3, dtype="float64")])
    model = MAML(net, 3, inner_lr=0.5, inner_steps=2)
    analytic = _assert_meta_gradient_matches_finite_differences(model, _image_episodes(4))
    conv_bias = analytic[1]
    # BatchNorm removes any per-channel shift: the loss cannot depend on the conv bias.
    np.testing.assert_allclose(conv_bias, 0.0, atol=1e-12)


@pytest.mark.parametrize("backbone,size", [("conv4", 16), ("conv4_ceil", 12), ("strided4", 8)])
def test_backbones_meta_gradient_matches_finite_differences(backbone, size):
    model = MAML(_float64_backbone(backbone, size), 3, inner_lr=0.5, inner_steps=2)
    _assert_meta_gradient_matches_finite_differences(model, _image_episodes(size))


def test_conv4_ceil_keeps_the_last_row_and_column_of_every_map():
    """28x28: conv4 pools 3x3 -> 1x1 (64 features, the map's last row and column never
    read); conv4_ceil pools 7 -> 4 -> 2 (256 features)."""
    for backbone, dim, sizes in (("conv4", 64, [14, 7, 3, 1]), ("conv4_ceil", 256, [14, 7, 4, 2])):
        net = backbones.embedding((28, 28, 1), backbone=backbone)
        assert net.output_shape == (None, dim) == (None, backbones.feature_dim(
            backbone, (28, 28, 1), 64))
        assert [layer.output.shape[1] for layer in net.layers if "pool" in layer.name] == sizes
    assert backbones.feature_dim("conv4_ceil", (84, 84, 3), 64) == 64 * 6 * 6
    assert backbones.feature_dim("conv4", (84, 84, 3), 64) == 64 * 5 * 5


def test_backbone_initialisations_are_explicit():
    torch_net = _float64_backbone("conv4", 16, "torch")
    keras_net = _float64_backbone("conv4", 16, "keras")
    head_bias = torch_net.get_layer("head").bias.numpy()  # fan-in: 2 filters x 1 x 1
    assert np.all(np.abs(head_bias) <= 1 / np.sqrt(2)) and np.abs(head_bias).max() > 0
    kernel = torch_net.get_layer("conv1").kernel.numpy()
    assert np.abs(kernel).max() <= 1 / np.sqrt(2 * 9)
    assert np.abs(kernel).max() > 0.5 / np.sqrt(2 * 9)  # uniform over the whole range
    np.testing.assert_array_equal(keras_net.get_layer("head").bias.numpy(), 0.0)
    assert torch_net.get_layer("conv1").bias is None  # BatchNorm makes a bias pointless
    with pytest.raises(ValueError, match="unknown initialisation 'xavier'"):
        meta_layers.initialisers("xavier", 9)


def test_first_order_differs_and_is_the_query_gradient_at_adapted_weights():
    second = MAML(_tiny_net(), 3, inner_lr=0.5, inner_steps=2)
    first = MAML(_tiny_net(), 3, inner_lr=0.5, inner_steps=2, first_order=True)
    episodes = _episodes()
    g2, g1 = _meta_gradient(second, episodes), _meta_gradient(first, episodes)
    assert max(np.abs(a - b).max() for a, b in zip(g1, g2)) > 1e-3
    # FO-MAML's gradient: mean over tasks of dL_query/dphi at the adapted weights phi.
    weights, non_trainable = first.current_weights()
    expected = [np.zeros_like(g) for g in g1]
    for t in range(2):
        phi = adaptation.sgd_adapt(first.net, weights, non_trainable,
                                   episodes["support_images"][t], episodes["support_labels"][t],
                                   2, 0.5, first_order=True)
        phi = [tf.constant(p.numpy()) for p in phi]
        with tf.GradientTape() as tape:
            tape.watch(phi)
            loss = adaptation.cross_entropy(
                adaptation.forward(first.net, phi, non_trainable, episodes["query_images"][t]),
                episodes["query_labels"][t])
        for i, g in enumerate(tape.gradient(loss, phi)):
            expected[i] += g.numpy() / 2
    for a, b in zip(g1, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_bad_episode_shapes_fail_clearly():
    model = MAML(_tiny_net(), 3, inner_lr=0.5, inner_steps=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    episodes = _episodes()
    unbatched = {k: v[0] for k, v in episodes.items()}
    with pytest.raises(DataError, match=r"episodes must be batched: support/query images "
                                        r"\[B, N\*K, H, W, C\]"):
        model.train_step(unbatched)
    wrong_size = dict(episodes, query_images=tf.zeros((2, 6, 3, 3, 1), tf.float64))
    with pytest.raises(DataError, match=r"episode images have shape \(2, 2, 1\) / \(3, 3, 1\) "
                                        r"but the network takes \(2, 2, 1\)"):
        model.train_step(wrong_size)
    with pytest.raises(DataError, match="a meta-batch must be a dict with keys"):
        model.train_step({"support_images": episodes["support_images"]})
    four_way = dict(episodes, support_images=tf.zeros((2, 4, 2, 2, 1), tf.float64),
                    support_labels=tf.zeros((2, 4), tf.int32))
    with pytest.raises(DataError, match="not a multiple of ways=3"):
        model.train_step(four_way)
