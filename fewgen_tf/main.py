r"""Command-line entry point.

  python -m fewgen_tf.main --config=configs/quickstart.py --workdir=/tmp/run
  python -m fewgen_tf.main --config=configs/preview_omniglot.py:lake \
      --workdir=/tmp/omni --config.eval.ways=20

Only parses flags and calls the pipeline named by `config.pipeline`.
"""

import errno
import sys

import ml_collections
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


def _last_line(text):
    """The last non-empty line of `text` (ml_collections puts the config file's whole
    traceback in its message; its last line is the error itself), without the
    exception's type name."""
    line = [part for part in str(text).strip().splitlines() if part.strip()][-1].strip()
    name, colon, rest = line.partition(": ")
    return rest if colon and name.isidentifier() and name[0].isupper() else line


def _config_argument(argv):
    """The --config=FILE[:VARIANT] given (for messages), or None."""
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg[len("--config="):]
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _config_module(path):
    """The config file at `path` as a module (for messages and --help only)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fewgen_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _override_problem(given, argv):
    """One line for the first `--config.PATH=VALUE` of `argv` whose PATH the config
    `given` (FILE.py[:VARIANT]) does not have, or None: a missing key (with the keys
    that section has) or a value that is not a section."""
    import difflib

    path, _, variant = (given or "").partition(":")
    try:
        module = _config_module(path)
        config = module.get_config(variant) if variant else module.get_config()
    except Exception:  # noqa: BLE001 (only a better message is at stake)
        return None
    for arg in argv:
        if not arg.startswith("--config."):
            continue
        dotted = arg[len("--config."):].partition("=")[0]
        node, done = config, []
        for part in dotted.split("."):
            where = ".".join(done) or "the config"
            if not isinstance(node, ml_collections.ConfigDict):
                return (f"--config.{dotted}: {where} is a setting "
                        f"({type(node).__name__}), not a section")
            if part not in node:
                near = difflib.get_close_matches(part, list(node.keys()), 1)
                hint = f" (did you mean {'.'.join(done + near)}?)" if near else ""
                return (f"--config.{dotted}: {where} has no key {part!r}{hint}; see "
                        "docs/config.md for every key")
            node, done = node[part], done + [part]
    return None


def _help_text():
    """What `--help` shows: the command, the pipelines, the config files with their
    variants, and where every key is listed."""
    import glob
    import os

    from fewgen_tf.pipelines import PIPELINES

    lines = [__doc__.strip(), "", "Flags:",
             "  --config=FILE.py[:VARIANT]  an experiment config (configs/*.py)",
             "  --workdir=DIR               where the run writes (a rerun resumes it)",
             "  --config.KEY=VALUE          override one setting (every key: docs/config.md,",
             "                              or python -m fewgen_tf.config_reference)", "",
             "Pipelines (config.pipeline): " + ", ".join(sorted(PIPELINES)), "",
             "Config files and their variants:"]
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
    for path in sorted(glob.glob(os.path.join(root, "*.py"))):
        try:
            names = getattr(_config_module(path), "VARIANTS", ())
            variants = ": " + ", ".join(names) if names else ""
        except Exception:  # noqa: BLE001 (the list is a courtesy)
            variants = ""
        lines.append(f"  configs/{os.path.basename(path)}{variants}")
    return "\n".join(lines)


def parse_flags(argv):
    """absl flag parsing that reports a bad config file, variant or override in one line
    (keeping ml_collections' "Did you mean" suggestion) instead of a traceback; `--help`
    lists the pipelines and the config files with their variants."""
    if any(arg in ("--help", "-h", "-help", "--helpshort") for arg in argv[1:]):
        print(_help_text())
        sys.exit(0)
    given = _config_argument(argv)
    try:
        argv = FLAGS(argv)
    except flags.Error as e:
        if "Error whilst parsing config file" in str(e):  # get_config(variant) raised
            reason = _last_line(e)
            if "takes 0 positional arguments" in reason:
                file = (given or "").partition(":")[0]
                reason = f"{file} has no variants: use --config={file}"
            sys.exit(f"fewgen_tf: error: --config={given}: {reason}")
        sys.exit(f"fewgen_tf: error: {e}\nPass --help to see the flags.")
    except OSError as e:  # a config file that cannot be loaded, read early by an override
        reason = _last_line(e.__cause__ or e).removeprefix("[Errno 2] ")
        sys.exit(f"fewgen_tf: error: --config={given}: cannot load the config file: {reason}")
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        message = _innermost_message(e)
        problem = None if "Did you mean" in message else _override_problem(given, argv)
        sys.exit(f"fewgen_tf: error: {problem or 'bad --config or --config.* override: '}"
                 f"{'' if problem else message}")
    config = FLAGS.config
    if config is not None and not isinstance(config, ml_collections.ConfigDict):
        try:  # ml_collections reports a config file it could not load only when it is read
            config.get("pipeline")
        except OSError as e:
            reason = _last_line(e.__cause__ or e).removeprefix("[Errno 2] ")
            sys.exit(f"fewgen_tf: error: --config={given}: cannot load the config file: "
                     f"{reason}")
    return argv


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from fewgen_tf import pipelines  # late: a flag error is reported before TensorFlow loads

    logging.info("pipeline %s, workdir %s", FLAGS.config.get("pipeline"), FLAGS.workdir)
    try:
        pipelines.run(FLAGS.config, FLAGS.workdir)
    except KeyboardInterrupt:
        logging.error("interrupted")
        print("fewgen_tf: interrupted; the same command resumes from the last checkpoint",
              file=sys.stderr)
        sys.exit(130)
    except FewgenError as e:
        logging.error("%s", e)
        sys.exit(f"fewgen_tf: error: {e}")
    except OSError as e:
        if e.filename is None:
            raise  # no path to name: the traceback is the information there is
        message = os_error_message(e)
        logging.error("%s", message)
        sys.exit(f"fewgen_tf: error: {message}")
    except Exception as e:  # noqa: BLE001 (re-raised unless it is a storage failure)
        message = storage_error_message(e)
        if message is None:
            raise
        logging.error("%s", message)
        sys.exit(f"fewgen_tf: error: {message}")


def os_error_message(error: OSError) -> str:
    """One line for an OSError of the run that names a path (a full disk, a quota, a
    file made read-only under a running job): "cannot write PATH: REASON" (or "cannot
    use PATH: REASON" when the failing call is not known to be a write)."""
    write_errors = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES,
                    errno.EPERM)
    verb = "cannot write" if error.errno in write_errors else "cannot use"
    return f"{verb} {error.filename}: {error.strerror or error}"


# What the operating system says when storage refuses a write, as TensorFlow's own file
# ops (checkpoints, SavedModels, summaries) pass it on inside their error messages.
STORAGE_FAILURES = ("No space left on device", "Disk quota exceeded", "Read-only file system",
                    "File too large", "Permission denied")


def storage_error_message(error) -> "str | None":
    """One line for a TensorFlow error that is a failed write to storage (a full disk
    while a checkpoint or an export is written): "cannot write: REASON (TF's first line)";
    None for anything else (a real bug keeps its traceback)."""
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(error, tf.errors.OpError):
        return None
    text = str(error.message or error)
    reason = next((r for r in STORAGE_FAILURES if r in text), None)
    if reason is None:
        return None
    first = text.strip().splitlines()[0].strip() if text.strip() else reason
    return f"cannot write: {reason} ({first[:300]})"


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
