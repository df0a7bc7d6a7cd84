"""What every meta-learner shares: a Keras model over batches of Episode dicts.

A learner defines `task_logits(weights, non_trainable, support_images, support_labels,
query_images, training, transductive)` for ONE episode, with its network's weights
passed explicitly. From it this base class derives batched inference (vectorised over
the episodes of a meta-batch), `test_step`, per-task accuracies for evaluation and the
exported `classify` / `classify_task` signatures, so training, evaluation and serving
run the same code. Subclasses write `train_step` as their paper's outer update.

At test time a learner answers in one of two ways:
  inductive (the default; evaluation's headline, the exported `classify`): a query's
    logits depend on the support set and that query alone. BatchNorm normalises every
    image by the SUPPORT set's moments, so a request of one query, of fifteen queries of
    one class or of a whole task gives each query the same answer.
  transductive (`transductive=True`; `classify_task`, eval.json's `task_accuracy`):
    the queries of one task are answered together as in training, BatchNorm by the
    moments of support and queries (the MAML / LASIUM reference code's evaluation), and
    ProtoNets refines its prototypes with them (`meta.transductive_steps`).
"""

import keras
import tensorflow as tf

from fewgen_tf.errors import DataError
from fewgen_tf.meta import adaptation, heads

PARALLEL_TASKS = 8
EPISODE_KEYS = ("support_images", "support_labels", "query_images", "query_labels")


def check_episode_batch(episodes, image_shape, ways=None):
    """Fail with a clear message when a batch of episodes has the wrong structure."""
    if not isinstance(episodes, dict) or any(k not in episodes for k in EPISODE_KEYS):
        got = sorted(episodes) if isinstance(episodes, dict) else type(episodes).__name__
        raise DataError(f"a meta-batch must be a dict with keys {list(EPISODE_KEYS)}; got {got}")
    s, y = episodes["support_images"].shape, episodes["support_labels"].shape
    q, qy = episodes["query_images"].shape, episodes["query_labels"].shape
    if s.rank != 5 or q.rank != 5 or y.rank != 2 or qy.rank != 2:
        raise DataError(
            "episodes must be batched: support/query images [B, N*K, H, W, C] and labels "
            f"[B, N*K]; got support_images {s}, support_labels {y}, query_images {q}, "
            f"query_labels {qy}")
    if tuple(s[2:]) != tuple(image_shape) or tuple(q[2:]) != tuple(image_shape):
        raise DataError(f"episode images have shape {tuple(s[2:])} / {tuple(q[2:])} but the "
                        f"network takes {tuple(image_shape)}")
    if s[1] is not None and y[1] is not None and s[1] != y[1]:
        raise DataError(f"{s[1]} support images but {y[1]} support labels per episode")
    if q[1] is not None and qy[1] is not None and q[1] != qy[1]:
        raise DataError(f"{q[1]} query images but {qy[1]} query labels per episode")
    if ways is not None and s[1] is not None and s[1] % ways:
        raise DataError(f"{s[1]} support images per episode is not a multiple of ways={ways}")


class FewShotLearner(keras.Model):
    """Base class: `net` is the Keras network whose weights are meta-learned."""

    def __init__(self, net: keras.Model, ways: int, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.ways = ways
        self.image_shape = tuple(net.input_shape[1:])
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        # `net` already has its variables; without this, fit() under a distribution
        # strategy tries to build the learner by calling it on dummy float labels.
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    # ----------------------------------------------------------- per-algorithm maths
    def task_logits(self, weights, non_trainable, support_images, support_labels,
                    query_images, training: bool, transductive: bool = False):
        raise NotImplementedError

    # ----------------------------------------------------------------- shared pieces
    def current_weights(self):
        return ([v.value for v in self.net.trainable_variables],
                [v.value for v in self.net.non_trainable_variables])

    def batch_logits(self, episodes, training: bool = False, transductive: bool = False):
        """Query logits [B, N*Q, ways] of a meta-batch; the episodes run as parallel
        iterations of one map (measured faster than `tf.vectorized_map` and than an
        unrolled loop for 50-step MAML adaptation on CPU, with far shorter tracing)."""
        weights, non_trainable = self.current_weights()

        def one(task):
            return self.task_logits(weights, non_trainable, task[0], task[1], task[2], training,
                                    transductive)

        return tf.map_fn(one, (episodes["support_images"], episodes["support_labels"],
                               episodes["query_images"]), fn_output_signature=tf.float32,
                         parallel_iterations=PARALLEL_TASKS)

    def call(self, episodes, training=False):
        return self.batch_logits(episodes, training=False)

    def episode_accuracies(self, episodes, transductive=False):
        """Per-episode query accuracy [B] with evaluation-time adaptation, inductive or
        transductive (module docstring)."""
        check_episode_batch(episodes, self.image_shape)
        logits = self.batch_logits(episodes, training=False, transductive=transductive)
        correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), episodes["query_labels"])
        return tf.reduce_mean(tf.cast(correct, tf.float32), axis=-1)

    def test_step(self, episodes):
        accuracies = self.episode_accuracies(episodes)
        self.accuracy_tracker.update_state(accuracies)
        return {"accuracy": self.accuracy_tracker.result()}

    def query_losses(self, episodes):
        """Per-task query loss and accuracy after TRAINING-time adaptation, one task at
        a time (unrolled: MAML's second-order tape needs the inner loop in the graph)."""
        weights, non_trainable = self.current_weights()
        losses, accuracies = [], []
        for t in range(episodes["support_images"].shape[0]):
            logits = self.task_logits(weights, non_trainable, episodes["support_images"][t],
                                      episodes["support_labels"][t],
                                      episodes["query_images"][t], training=True)
            losses.append(adaptation.cross_entropy(logits, episodes["query_labels"][t]))
            accuracies.append(query_accuracy(logits, episodes["query_labels"][t]))
        return losses, accuracies

    def train_step(self, episodes):
        """The outer update of MAML and ProtoNets: a gradient step (compiled optimizer)
        on the mean query loss over the meta-batch."""
        check_episode_batch(episodes, self.image_shape, self.outer_ways)
        variables = self.net.trainable_variables
        with tf.GradientTape() as tape:
            losses, accuracies = self.query_losses(episodes)
            loss = mean_over_global_batch(losses)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._record(losses, accuracies)

    @property
    def outer_ways(self):
        """Ways the training episodes must have (None: any)."""
        return self.ways

    @property
    def task_ways(self):
        """Classes a task must have at test time and in the exported `classify`: the
        width of the network's fixed head (None: any number, ProtoNets)."""
        return self.ways

    def _record(self, task_losses, task_accuracies):
        self.loss_tracker.update_state(task_losses)
        self.accuracy_tracker.update_state(task_accuracies)
        return {m.name: m.result() for m in self.metrics}


def mean_over_global_batch(per_task):
    """Sum of this replica's task values divided by the GLOBAL meta-batch size, so that
    the optimizer's cross-replica gradient sum is the meta-batch mean (see DESIGN)."""
    return tf.nn.compute_average_loss(tf.stack(per_task))


def query_accuracy(logits, labels):
    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels),
                                  tf.float32))


class AdaptingLearner(FewShotLearner):
    """A learner that classifies a task by gradient steps on its support set from the
    meta-learned weights (MAML, FO-MAML, Reptile, the scratch baseline): `inner_steps`
    at training time, `eval_inner_steps` at test time and in exports. At test time an
    N-way task's head is made by `head_init` (fewgen_tf/meta/heads.py: auto, learned,
    prototypes, zero) before adapting, so any N is answered unless it is 'learned'."""

    def __init__(self, net, ways, inner_lr=0.4, inner_steps=5, eval_inner_steps=50,
                 first_order=False, head_init="auto", **kwargs):
        super().__init__(net, ways, **kwargs)
        self.inner_lr = inner_lr
        self.inner_steps = inner_steps
        self.eval_inner_steps = eval_inner_steps
        self.first_order = first_order
        self.head_init = heads.check_head_init(head_init)
        # The net as body + linear head of any width (checked now: a net without a Dense
        # head fails here, not at the first test task). Unused with 'learned'.
        self._split = None if head_init == "learned" else heads.HeadSplitNet(net)

    @property
    def task_ways(self):
        return self.ways if self.head_init == "learned" else None

    def task_logits(self, weights, non_trainable, support_images, support_labels,
                    query_images, training, transductive=False):
        if training or self.head_init == "learned":
            if not training:  # a clear error rather than a label error deep in the loop
                tf.debugging.assert_equal(
                    tf.reduce_max(support_labels) + 1, self.ways,
                    message=f"meta.head_init 'learned': a task must have the {self.ways} "
                            "ways of the learned head (another head_init answers any)")
            steps = self.inner_steps if training else self.eval_inner_steps
            adapted = adaptation.sgd_adapt(self.net, weights, non_trainable, support_images,
                                           support_labels, steps, self.inner_lr,
                                           first_order=self.first_order or not training)
            if training or transductive:
                return adaptation.forward(self.net, adapted, non_trainable, query_images)
            return query_logits(self.net, adapted, non_trainable, support_images, query_images)
        weights = list(weights)
        head = heads.initial_head(self.head_init, self._split, weights, non_trainable,
                                  support_images, support_labels, self.ways)
        adapted = adaptation.sgd_adapt(self._split, weights[:-2] + head, non_trainable,
                                       support_images, support_labels, self.eval_inner_steps,
                                       self.inner_lr, first_order=True)
        if transductive:
            return adaptation.forward(self._split, adapted, non_trainable, query_images)
        return query_logits(self._split, adapted, non_trainable, support_images, query_images)


def query_logits(net, weights, non_trainable, support_images, query_images):
    """The inductive answer of adapted weights: the queries normalised by the support
    set's BatchNorm moments (those the inner loop adapted with), each independently of
    the others."""
    n_support = tf.shape(support_images)[0]
    outputs = adaptation.forward(net, weights, non_trainable,
                                 tf.concat([support_images, query_images], 0),
                                 statistics_rows=n_support)
    return outputs[n_support:]
