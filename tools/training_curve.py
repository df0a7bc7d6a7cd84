r"""A run's per-epoch training curve from its metrics.jsonl, as a markdown table (every
`--every`-th epoch and the last), e.g. AugIntAE's k, D(real), D(fake) and gamma (Eq. 2-6):

  python tools/training_curve.py --workdir=RUN --keys=k,d_real,d_fake,gamma,reconstruction
"""

import json
import os

from absl import app, flags

flags.DEFINE_string("workdir", None, "the run's workdir", required=True)
flags.DEFINE_string("phase", "generator", "metrics.jsonl phase")
flags.DEFINE_list("keys", ["k", "d_real", "d_fake", "gamma", "reconstruction"], "columns")
flags.DEFINE_integer("every", 1, "show every N-th epoch (and the last)")
FLAGS = flags.FLAGS


def epoch_records(workdir, phase):
    """The epoch-end records of `phase`, in order (later lines of a resumed run win)."""
    by_step = {}
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if record.get("phase") == phase and "step" in record:
                by_step[record["step"]] = record
    return [by_step[s] for s in sorted(by_step)]


def main(argv):
    del argv
    records = epoch_records(FLAGS.workdir, FLAGS.phase)
    print("| epoch | step | " + " | ".join(FLAGS.keys) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in FLAGS.keys) + " |")
    for i, record in enumerate(records, 1):
        if i % FLAGS.every and i != len(records):
            continue
        values = [f"{record[k]:.4g}" if isinstance(record.get(k), (int, float)) else "-"
                  for k in FLAGS.keys]
        print(f"| {i} | {record['step']} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    app.run(main)
