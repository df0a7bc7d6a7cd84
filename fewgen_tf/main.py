r"""Command-line entry point.

  python -m fewgen_tf.main --config=configs/quickstart.py --workdir=/tmp/run
  python -m fewgen_tf.main --config=configs/preview_omniglot.py:lake \
      --workdir=/tmp/omni --config.eval.ways=20

Only parses flags and calls the pipeline named by `config.pipeline`.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from fewgen_tf.errors import FewgenError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Experiment config file, FILE.py[:VARIANT].",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, samples, exports.")
flags.mark_flags_as_required(["config", "workdir"])


def _innermost_message(error):
    """ml_collections wraps its KeyError ("Did you mean ...") in an AttributeError."""
    message = error
    while isinstance(message, BaseException) and message.args:
        message = message.args[0]
    return str(message)


def parse_flags(argv):
    """absl flag parsing that reports a bad config file, variant or override in one line
    (keeping ml_collections' "Did you mean" suggestion) instead of a traceback."""
    try:
        return FLAGS(argv)
    except flags.Error as e:
        sys.exit(f"fewgen_tf: error: {e}\nPass --helpfull to see the flags.")
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        sys.exit(f"fewgen_tf: error: bad --config or --config.* override: {_innermost_message(e)}")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from fewgen_tf import pipelines  # late: a flag error is reported before TensorFlow loads

    logging.info("pipeline %s, workdir %s", FLAGS.config.get("pipeline"), FLAGS.workdir)
    try:
        pipelines.run(FLAGS.config, FLAGS.workdir)
    except FewgenError as e:
        logging.error("%s", e)
        sys.exit(f"fewgen_tf: error: {e}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
