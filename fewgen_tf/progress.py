"""Progress lines for a run: which stage runs, how far it is and how long it has left.

A pipeline names its stages once (`plan`), then runs each inside `stage(name)`; the
loops inside a stage (training steps, evaluation tasks) report through a `Ticker`, which
logs a line now and then:

    [3/5] meta-training: step 120/300 (40%), 36 s in, ~52 s left
    [3/5] meta-training: done in 1 min 31 s (run 2 min 40 s)

Lines are absl INFO logs, so they land in the terminal and in log files alike. The
estimate of what is left is the stage's own rate so far (measured from the loop's first
report, which leaves tracing and warm-up out); what later stages will take is not
guessed. Stages a pipeline did not plan are logged by name alone. Nothing here changes
a number of the run.
"""

import contextlib
import time

from absl import logging

_clock = time.monotonic  # tests replace it

# The run's plan and the stage now running (one run per process at a time).
_state = {"plan": [], "current": None, "run_start": None}


def plan(names) -> None:
    """Declare the run's stages in order (resets the run's clock)."""
    _state.update(plan=list(names), current=None, run_start=_clock())


def planned() -> bool:
    """Whether the running pipeline has named its stages (its progress lines then carry
    the time left, and a terminal needs no per-step bars beside them)."""
    return bool(_state["plan"])


def label(name=None) -> str:
    """'[3/5] meta-training' for a planned stage, the bare name otherwise."""
    name = _state["current"] if name is None else name
    if name is None:
        return ""
    if name in _state["plan"]:
        return f"[{_state['plan'].index(name) + 1}/{len(_state['plan'])}] {name}"
    return name


def duration(seconds: float) -> str:
    """'45 s', '2 min 05 s'."""
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


@contextlib.contextmanager
def stage(name: str, what: str = ""):
    """Log the stage's start (with `what` it will do) and its duration at the end."""
    outer = _state["current"]
    _state["current"] = name
    if _state["run_start"] is None:
        _state["run_start"] = _clock()
    start = _clock()
    logging.info("%s%s", label(name), f": {what}" if what else ": start")
    try:
        yield
    finally:
        now = _clock()
        logging.info("%s: done in %s (run %s)", label(name), duration(now - start),
                     duration(now - _state["run_start"]))
        _state["current"] = outer


class Ticker:
    """Reports `done` of `total` units of the current stage: at most one line per
    `interval` seconds, the interval growing to a tenth of the time spent so that long
    runs log a few dozen lines, not thousands. The rate counts from the first report,
    so units done before it (a resumed run's) do not make the estimate optimistic."""

    def __init__(self, total: int, unit: str = "step", what: str = "",
                 interval: float = 10.0):
        self.total, self.unit, self.what, self.interval = int(total), unit, what, interval
        self.first = None  # (time, done) of the first report
        self.last_line = _clock()
        self.began = self.last_line

    def remaining(self, done: int, now: float):
        """Seconds left at the rate since the first report, or None before there is one."""
        if self.first is None or done <= self.first[1]:
            return None
        rate = (now - self.first[0]) / (done - self.first[1])
        return rate * max(self.total - done, 0)

    def update(self, done: int) -> None:
        now = _clock()
        if self.first is None:
            self.first = (now, int(done))
        due = max(self.interval, 0.1 * (now - self.began))
        if now - self.last_line < due:
            return
        self.last_line = now
        left = self.remaining(done, now)
        prefix = label()
        prefix = f"{prefix}: " if prefix else ""
        what = f"{self.what} " if self.what else ""
        percent = f" ({100 * done // max(self.total, 1)}%)" if self.total else ""
        logging.info("%s%s%s %d/%d%s, %s in%s", prefix, what, self.unit, done, self.total,
                     percent, duration(now - self.began),
                     "" if left is None else f", ~{duration(left)} left")
