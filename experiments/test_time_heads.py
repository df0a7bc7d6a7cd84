r"""What an N-way test task costs an adapting learner trained on fewer ways (issue 28):
the test-time head `meta.head_init` (fewgen_tf/meta/heads.py) on the fixed test tasks of
a finished MAML / FO-MAML / Reptile run (LASIUM or supervised); a ProtoNets run answers
rows WAYS:prototypes (its own head), e.g. its 5-shot or 20-way accuracy.

For each row WAYS:HEAD_INIT[:tSTEPS] (default: 5-way with the learned, prototypes and zero heads,
20-way with prototypes and zero) the run's learner, restored to the weights it
evaluated, answers the first `--num_tasks` test episodes of `eval.seed` (the tasks of
the run's own eval.json when WAYS, shots and queries are the run's), adapting
`eval.inner_steps` steps. One JSON line per row: accuracy mean +- CI95, and the paired
difference to the first row of the same WAYS (the same tasks: their difficulty cancels).
A row without tSTEPS answers as the exported `classify` (each query alone); ProtoNets
only: tSTEPS answers a task's queries together as `classify_task` with
`meta.transductive_steps` = STEPS (soft k-means refinements of the prototypes by the
queries; t0: the joint BatchNorm moments alone).

  FEWGEN_DATA_DIR=../shared/data python experiments/test_time_heads.py --workdir=RUN \
      [--rows=5:learned,5:prototypes,5:zero,20:prototypes,20:zero] [--num_tasks=1000]
  ... --workdir=PROTONETS_RUN --rows=5:prototypes,5:prototypes:t1,5:prototypes:t3 --split=val
"""

import json
import time

from absl import app, flags

FLAGS = flags.FLAGS
TEST_TIME_OPTIONS = {"t": "transductive_steps"}  # ProtoNets' meta.* keys


def define_flags():
    """The script's flags, defined only when it runs as a script: importing the module
    (tests of `parse_rows`) defines none, so it cannot clash with another's flags."""
    flags.DEFINE_string("workdir", None, "a finished meta-learning run (config.json, "
                        "checkpoints/)", required=True)
    flags.DEFINE_list("rows", ["5:learned", "5:prototypes", "5:zero", "20:prototypes", "20:zero"],
                      "WAYS:HEAD_INIT[:tSTEPS] rows")
    flags.DEFINE_integer("num_tasks", 0, "test tasks per row (0: the run's eval.num_tasks)")
    flags.DEFINE_integer("shots", 0, "shots (0: the run's eval.shots)")
    flags.DEFINE_integer("queries", 0, "queries per class (0: the run's eval.queries)")
    flags.DEFINE_string("split", "test", "the class split whose tasks are answered: test or val")


def parse_rows(rows):
    """[(ways, head_init, {meta overrides})] from 'WAYS:HEAD_INIT[:tSTEPS]' strings, checked before anything loads."""
    from fewgen_tf.meta import heads

    from fewgen_tf.errors import ConfigError

    parsed = []
    for row in rows:
        ways, head_init, *extras = row.split(":")
        if not ways.isdigit() or int(ways) < 2:
            raise app.UsageError(f"row {row!r}: WAYS must be an integer >= 2")
        overrides = {}
        for extra in extras:
            key = TEST_TIME_OPTIONS.get(extra[:1])
            if key is None or not extra[1:].isdigit():
                raise app.UsageError(f"row {row!r}: {extra!r} is not tSTEPS (e.g. t3)")
            overrides[key] = int(extra[1:])
        try:
            parsed.append((int(ways), heads.check_head_init(head_init), overrides))
        except ConfigError as error:
            raise app.UsageError(f"row {row!r}: {error}") from None
    return parsed


def main(argv):
    del argv
    from fewgen_tf.config import ADAPTING_ALGORITHMS

    rows = parse_rows(FLAGS.rows)
    from fewgen_tf import workdir as workdir_lib

    run = workdir_lib.finished_run_config(FLAGS.workdir, "meta", "meta-learner")  # upgraded
    algorithm = run.meta.algorithm
    if algorithm == "protonets":  # its only head: the support set's prototypes
        if any(head_init != "prototypes" for _, head_init, _ in rows):
            raise app.UsageError(f"the run in {FLAGS.workdir} is ProtoNets: its head is the "
                                 "prototypes, give rows WAYS:prototypes")
    elif algorithm not in ADAPTING_ALGORITHMS:
        raise app.UsageError(f"the run in {FLAGS.workdir} is meta.algorithm {algorithm!r}: "
                             f"test-time heads apply to {', '.join(ADAPTING_ALGORITHMS)} "
                             "(and ProtoNets' prototypes) only")
    if algorithm != "protonets" and any(overrides for _, _, overrides in rows):
        raise app.UsageError("row option tSTEPS applies to a ProtoNets run only")
    trained_ways = run.train.ways if algorithm != "scratch" else run.eval.ways
    for ways, head_init, _ in rows:
        if head_init == "learned" and ways != trained_ways:
            raise app.UsageError(f"row {ways}:learned: the learned head answers only the "
                                 f"{trained_ways} trained ways")
    from fewgen_tf.data import registry
    from fewgen_tf.meta import evaluation
    from fewgen_tf.metrics import fewshot
    from fewgen_tf.stages.meta_learning import learner_of_run

    split = registry.load_splits(run.data)[FLAGS.split]  # (an empty root: $FEWGEN_DATA_DIR)
    firsts = {}
    for ways, head_init, overrides in rows:
        config, learner = learner_of_run(FLAGS.workdir, split.image_shape, head_init=head_init,
                                         **overrides)
        eval_config = config.eval
        eval_config.ways = ways
        eval_config.shots = FLAGS.shots or eval_config.shots
        eval_config.queries = FLAGS.queries or eval_config.queries
        num_tasks = FLAGS.num_tasks or eval_config.num_tasks
        start = time.time()
        accuracies = evaluation.task_accuracies(learner, split, eval_config, FLAGS.split,
                                                num_tasks=num_tasks,
                                                what=f"{ways}-way {head_init}",
                                                transductive=bool(overrides))
        label = ":".join([head_init] + [f"{k}{overrides[v]}" for k, v in TEST_TIME_OPTIONS.items()
                                        if v in overrides])
        line = dict(fewshot.accuracy_summary(accuracies), ways=ways, head_init=head_init,
                    shots=eval_config.shots, queries=eval_config.queries,
                    inner_steps=eval_config.inner_steps, seed=eval_config.seed,
                    answer="task (classify_task)" if overrides else "each query (classify)",
                    transductive_steps=config.meta.transductive_steps,
                    split=FLAGS.split, algorithm=algorithm, trained_ways=trained_ways,
                    seconds=round(time.time() - start, 1), workdir=FLAGS.workdir)
        line["accuracy"] = fewshot.format_accuracy(line)
        line["row"] = f"{ways}:{label}"
        if ways in firsts:
            first_label, first = firsts[ways]
            line[f"minus_{first_label}"] = fewshot.paired_difference(accuracies, first)
        else:
            firsts[ways] = (label, accuracies)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
