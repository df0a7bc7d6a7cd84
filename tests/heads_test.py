"""Adapting learners answer N-way test tasks for any N (`meta.head_init`, issue 28): the
exported `classify` of a 5-way MAML takes 20-way and 3-way requests, Proto-MAML's head
against a hand computation, the learned head unchanged bitwise, clear errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fewgen_tf import config as config_lib
from fewgen_tf import export
from fewgen_tf.config import add_meta_learning, base_config
from fewgen_tf.data import registry
from fewgen_tf.errors import ConfigError
from fewgen_tf.meta import adaptation, evaluation, factory, heads
from fewgen_tf.meta.maml import MAML
from fewgen_tf.meta.reptile import Reptile

SHAPE = (28, 28, 1)
_RNG = np.random.default_rng(7)


def _learner(head_init="auto", algorithm="maml", inner_steps=2, ways=5):
    config = add_meta_learning(base_config(), algorithm)
    config.meta.filters = 4
    config.meta.head_init = head_init
    config.eval.inner_steps = inner_steps
    config.train.ways = config.eval.ways = ways
    return factory.build_learner(config, SHAPE)  # the same weights for every head_init


def _task(ways, shots=1, queries=4):
    support = _RNG.uniform(size=(ways * shots,) + SHAPE).astype(np.float32)
    labels = np.tile(np.arange(ways, dtype=np.int32), shots)
    return support, labels, _RNG.uniform(size=(queries,) + SHAPE).astype(np.float32)


def _classify(path, support, labels, query, signature="classify"):
    function = tf.saved_model.load(path).signatures[signature]
    out = function(support_images=tf.constant(support), support_labels=tf.constant(labels),
                   query_images=tf.constant(query))
    return {k: v.numpy() for k, v in out.items()}


def _todays_classify(learner):
    """`classify` as it was before head_init: the whole network adapted, learned head."""
    def classify(support_images, support_labels, query_images):
        weights, non_trainable = learner.current_weights()
        adapted = adaptation.sgd_adapt(learner.net, weights, non_trainable, support_images,
                                       support_labels, learner.eval_inner_steps,
                                       learner.inner_lr, first_order=True)
        logits = adaptation.forward(learner.net, adapted, non_trainable, query_images)
        return {"logits": logits, "predictions": tf.argmax(logits, -1, output_type=tf.int32)}
    return classify


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{name: SavedModel path}: a 5-way MAML with the default head (auto), with the
    learned head only, and today's classify of the same weights (no input checks)."""
    root = tmp_path_factory.mktemp("heads")
    paths = {name: export.export_classifier(_learner(name), str(root / name / "1"))
             for name in ("auto", "learned")}
    learner = _learner("learned")
    archive = keras.export.ExportArchive()
    archive.track(learner.net)
    archive.add_endpoint("classify", tf.function(_todays_classify(learner), input_signature=[
        tf.TensorSpec([None] + list(SHAPE), tf.float32, name="support_images"),
        tf.TensorSpec([None], tf.int32, name="support_labels"),
        tf.TensorSpec([None] + list(SHAPE), tf.float32, name="query_images")]))
    archive.write_out(str(root / "today"), verbose=False)
    paths["today"] = str(root / "today")
    return paths


@pytest.mark.parametrize("ways,shots", [(20, 1), (3, 2), (5, 1)])
def test_a_5_way_maml_export_answers_any_number_of_ways(exported, ways, shots):
    support, labels, query = _task(ways, shots, queries=6)
    out = _classify(exported["auto"], support, labels, query)
    assert out["logits"].shape == (6, ways) and out["predictions"].shape == (6,)
    assert np.all(np.isfinite(out["logits"]))
    np.testing.assert_array_equal(out["predictions"], out["logits"].argmax(-1))


def test_the_learned_head_gives_bitwise_todays_logits(exported):
    """N == the trained ways: 'learned' and 'auto' answer a whole task (classify_task)
    as classify did before head_init, bit for bit."""
    task = _task(5, shots=2, queries=6)
    today = _classify(exported["today"], *task)
    for name in ("learned", "auto"):
        got = _classify(exported[name], *task, signature="classify_task")
        np.testing.assert_array_equal(got["logits"], today["logits"], err_msg=name)
        np.testing.assert_array_equal(got["predictions"], today["predictions"], err_msg=name)


def _assertion_line(error):
    return next(line for line in error.message.splitlines() if "assertion failed" in line)


@pytest.mark.parametrize("name,labels,message", [
    ("auto", [0, 1, 2, 3, 5, 5], "classify: support_labels must be 0..N-1 with every class "
                                 "present]"),
    ("auto", [0, 1, 2, -1, 1, 0], "classify: support_labels must be 0..N-1 with every class "
                                  "present]"),
    ("learned", [0, 1, 2, 3, 5, 5], "classify: support_labels must be 0..N-1 with every class "
                                    "present, N = 5, the ways of this model"),
    ("learned", list(range(20)), "classify: support_labels must be 0..N-1 with every class "
                                 "present, N = 5, the ways of this model"),
    ("learned", [0, 1, 2, 2, 1, 0], "classify: support_labels must be 0..N-1 with every class "
                                    "present, N = 5, the ways of this model"),
])
def test_a_bad_request_is_refused_clearly(exported, name, labels, message):
    labels = np.array(labels, np.int32)
    support = _RNG.uniform(size=(len(labels),) + SHAPE).astype(np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        _classify(exported[name], support, labels, support[:2])
    assert message in _assertion_line(caught.value)


def _flatten_maml(head_init, ways=3, steps=0):
    """MAML whose body is Flatten: the penultimate features ARE the pixels."""
    keras.utils.set_random_seed(3)
    net = keras.Sequential([keras.Input((2, 2, 1), dtype="float64"),
                            keras.layers.Flatten(dtype="float64"),
                            keras.layers.Dense(ways, dtype="float64",
                                               kernel_initializer="random_normal")])
    return MAML(net, ways, inner_lr=0.5, inner_steps=1, eval_inner_steps=steps,
                head_init=head_init)


def _logits(learner, support, labels, query, transductive=False):
    weights, non_trainable = learner.current_weights()
    return learner.task_logits(weights, non_trainable, tf.constant(support), tf.constant(labels),
                               tf.constant(query), training=False,
                               transductive=transductive).numpy()


@pytest.mark.parametrize("ways", [4, 3])  # another N than the trained 3, and the same N
def test_prototype_head_before_adaptation_by_hand(ways):
    r = np.random.default_rng(1)
    support, query = r.normal(size=(2 * ways, 2, 2, 1)), r.normal(size=(5, 2, 2, 1))
    labels = np.repeat(np.arange(ways, dtype=np.int32), 2)
    f_support, f_query = support.reshape(len(support), -1), query.reshape(len(query), -1)
    c = np.stack([f_support[labels == k].mean(0) for k in range(ways)])
    by_hand = 2 * f_query @ c.T - (c ** 2).sum(-1)
    np.testing.assert_allclose(_logits(_flatten_maml("prototypes"), support, labels, query),
                               by_hand, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(_logits(_flatten_maml("zero"), support, labels, query), 0.0)
    if ways != 3:  # auto: the zero head for another N (chosen on validation tasks)
        np.testing.assert_array_equal(_logits(_flatten_maml("auto"), support, labels, query),
                                      0.0)


def test_prototype_head_of_the_conv4_backbone_before_adaptation():
    """The real network: features are conv4's flatten output, BatchNorm on the batch's
    own statistics (support and query separately, as in adaptation.forward: the
    transductive answer; the inductive one's support moments: inductive_classify_test)."""
    learner = _learner("prototypes", inner_steps=0)
    support, labels, query = _task(7, shots=2, queries=5)
    features = keras.Model(learner.net.inputs[0], learner.net.get_layer("flatten").output)
    f_support = features(support, training=True).numpy().astype(np.float64)
    f_query = features(query, training=True).numpy().astype(np.float64)
    c = np.stack([f_support[labels == k].mean(0) for k in range(7)])
    by_hand = 2 * f_query @ c.T - (c ** 2).sum(-1)
    np.testing.assert_allclose(_logits(learner, support, labels, query, transductive=True),
                               by_hand, rtol=1e-5, atol=1e-4)


def test_zero_head_adapts_from_equal_classes():
    """One step from a zero head moves only the head (the features' gradient is W^T(p-y)
    = 0): kernel -lr * F^T (1/N - Y) / S, bias -lr * mean(1/N - Y)."""
    r = np.random.default_rng(2)
    support, query = r.normal(size=(4, 2, 2, 1)), r.normal(size=(3, 2, 2, 1))
    labels = np.array([0, 1, 2, 3], np.int32)
    f, y = support.reshape(4, -1), np.eye(4)
    kernel = -0.5 * f.T @ (0.25 - y) / 4
    bias = -0.5 * (0.25 - y).mean(0)
    np.testing.assert_allclose(
        _logits(_flatten_maml("zero", steps=1), support, labels, query),
        query.reshape(3, -1) @ kernel + bias, rtol=1e-12, atol=1e-12)


def test_training_is_unchanged_by_head_init():
    episodes = {"support_images": tf.constant(_RNG.normal(size=(2, 3, 2, 2, 1))),
                "support_labels": tf.constant([[0, 1, 2]] * 2, tf.int32),
                "query_images": tf.constant(_RNG.normal(size=(2, 6, 2, 2, 1))),
                "query_labels": tf.constant([[0, 0, 1, 1, 2, 2]] * 2, tf.int32)}
    reference, _ = _flatten_maml("learned").query_losses(episodes)
    for head_init in ("auto", "prototypes", "zero"):
        losses, _ = _flatten_maml(head_init).query_losses(episodes)
        np.testing.assert_array_equal(np.stack(losses), np.stack(reference))


def test_evaluation_takes_tasks_of_other_ways():
    """evaluation.task_accuracies on 7-way tasks of a 5-way MAML and Reptile (auto)."""
    config = base_config()
    config.data.images_per_class = 4
    test = registry.load_splits(config.data)["test"]
    eval_config = add_meta_learning(base_config(), "maml").eval
    eval_config.ways, eval_config.queries, eval_config.num_tasks = 7, 2, 3
    for algorithm in ("maml", "reptile"):
        learner = _learner(algorithm=algorithm, inner_steps=1)
        accuracies = evaluation.task_accuracies(learner, test, eval_config, "test", progress=False)
        assert accuracies.shape == (3,) and np.all((accuracies >= 0) & (accuracies <= 1))


def test_learned_head_refuses_other_ways_clearly():
    learner = _flatten_maml("learned")
    r = np.random.default_rng(0)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="meta.head_init 'learned': a task must have the 3 ways"):
        _logits(learner, r.normal(size=(4, 2, 2, 1)), np.arange(4, dtype=np.int32),
                r.normal(size=(2, 2, 2, 1)))
    assert learner.task_ways == 3 and _flatten_maml("auto").task_ways is None


def test_config_checks_of_head_init():
    config = add_meta_learning(base_config(), "maml")
    assert config.meta.head_init == "auto"
    config.eval.ways = 20
    config_lib.check_config(config)  # auto answers 20-way tasks of a 5-way MAML
    config.meta.head_init = "learned"
    with pytest.raises(ConfigError, match=r"maml with meta.head_init 'learned' has a Dense\(5\) "
                                          r"head from train.ways but eval.ways is 20"):
        config_lib.check_config(config)
    config.meta.head_init = "protos"
    with pytest.raises(ConfigError, match="unknown meta.head_init 'protos'; valid: auto, "
                                          "learned, prototypes, zero"):
        config_lib.check_config(config)
    with pytest.raises(ConfigError, match="unknown meta.head_init"):
        Reptile(_flatten_maml("learned").net, 3, head_init="protos")


def test_a_network_without_a_dense_head_is_refused_when_built():
    net = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="needs a network whose last layer is a linear Dense"):
        heads.HeadSplitNet(net)
    MAML(net, 3, head_init="learned")  # the learned head needs no split


def test_learner_of_run_restores_the_weights_the_run_evaluated(tmp_path):
    """experiments/test_time_heads.py's loader: the newest checkpoint, or the best validation
    weights where the run kept them; head_init is a test-time choice (old runs: auto)."""
    from fewgen_tf import training
    from fewgen_tf import workdir as workdir_lib
    from fewgen_tf.stages.meta_learning import learner_of_run

    config = add_meta_learning(base_config(), "maml")
    config.meta.filters = 4
    trained = factory.build_learner(config, SHAPE)
    older = config.copy_and_resolve_references()
    del older.meta["head_init"]  # a config.json written before meta.head_init existed
    workdir_lib.write_config(str(tmp_path), older)
    head = trained.net.get_layer("head").kernel
    head.assign(head + 1.0)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=trained),
                               str(tmp_path / "checkpoints"), 1).save()
    _, learner = learner_of_run(str(tmp_path), SHAPE)
    assert learner.head_init == "auto"
    np.testing.assert_array_equal(learner.net.get_layer("head").kernel.numpy(), head.numpy())
    head.assign(head + 1.0)
    training._weights_checkpoint(trained).write(str(tmp_path / "checkpoints" / "best" / "weights"))
    _, learner = learner_of_run(str(tmp_path), SHAPE, head_init="zero")
    assert learner.head_init == "zero"
    for a, b in zip(learner.net.weights, trained.net.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_test_time_heads_rows_take_protonets_options(tmp_path):
    """experiments/test_time_heads.py rows WAYS:HEAD_INIT[:tSTEPS]: parsed, refused
    clearly, and set on the restored ProtoNets learner through learner_of_run."""
    import importlib.util
    import os

    from absl import app

    from fewgen_tf import workdir as workdir_lib
    from fewgen_tf.stages.meta_learning import learner_of_run

    path = os.path.join(os.path.dirname(__file__), "..", "experiments", "test_time_heads.py")
    spec = importlib.util.spec_from_file_location("test_time_heads", path)
    test_time_heads = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_time_heads)
    assert test_time_heads.parse_rows(["5:prototypes", "20:prototypes:t3"]) == [
        (5, "prototypes", {}),
        (20, "prototypes", {"transductive_steps": 3})]
    for bad, message in (("5:prototypes:x2", "'x2' is not tSTEPS"),
                         ("5:prototypes:t", "'t' is not tSTEPS"),
                         ("1:prototypes", "WAYS must be an integer >= 2")):
        with pytest.raises(app.UsageError, match=message):
            test_time_heads.parse_rows([bad])

    config = add_meta_learning(base_config(), "protonets")
    config.meta.filters = 4
    workdir_lib.write_config(str(tmp_path), config)
    trained = factory.build_learner(config, SHAPE)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=trained),
                               str(tmp_path / "checkpoints"), 1).save()
    _, learner = learner_of_run(str(tmp_path), SHAPE, head_init="prototypes",
                                transductive_steps=3)
    assert learner.transductive_steps == 3
