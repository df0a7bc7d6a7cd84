"""Progress lines (fewgen_tf.progress): stage numbering, the time-left estimate by hand,
the throttling, and a pipeline's stages in order."""

import logging

import pytest

from fewgen_tf import progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progress, "_clock", fake)
    progress.plan([])
    yield fake
    progress.plan([])


def _lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "absl"]


def test_stages_are_numbered_by_the_plan_and_timed(clock, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    assert not progress.planned()
    progress.plan(["generator", "meta-training"])
    assert progress.planned()
    with progress.stage("generator", "vae, 40 epochs"):
        clock.now += 61
    with progress.stage("meta-training"):
        clock.now += 30
    with progress.stage("unplanned"):
        assert progress.label() == "unplanned"
    assert progress.label() == ""
    assert _lines(caplog) == [
        "[1/2] generator: vae, 40 epochs",
        "[1/2] generator: done in 1 min 01 s (run 1 min 01 s)",
        "[2/2] meta-training: start",
        "[2/2] meta-training: done in 30 s (run 1 min 31 s)",
        "unplanned: start", "unplanned: done in 0 s (run 1 min 31 s)"]


def test_time_left_is_the_rate_since_the_first_report(clock, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    progress.plan(["meta-training"])
    with progress.stage("meta-training"):
        ticker = progress.Ticker(300, "step")
        clock.now += 20           # the first step traces the graph: not counted in the rate
        ticker.update(1)          # first report: a line, but no estimate yet
        assert ticker.remaining(1, clock.now) is None
        clock.now += 11           # 11 s for steps 2..21: 0.55 s a step, 279 steps left
        ticker.update(21)
        assert ticker.remaining(21, clock.now) == pytest.approx(0.55 * 279)
        clock.now += 5            # within the interval: no line
        ticker.update(30)
    lines = _lines(caplog)
    assert lines[1:3] == ["[1/1] meta-training: step 1/300 (0%), 20 s in",
                          "[1/1] meta-training: step 21/300 (7%), 31 s in, ~2 min 33 s left"]
    assert len(lines) == 4  # start, two progress lines, done


def test_the_interval_grows_to_a_tenth_of_the_time_spent(clock, caplog):
    caplog.set_level(logging.INFO, logger="absl")
    ticker = progress.Ticker(10000, "task", what="untrained")
    for done in range(1, 2001):
        clock.now += 1.0
        ticker.update(done)
    lines = _lines(caplog)
    # every 10 s up to 100 s, then every tenth of the elapsed time: ~35 lines in 2000 s
    assert 25 < len(lines) < 50
    assert lines[0].startswith("untrained task 10/10000 (0%), 10 s in, ~")


def test_the_lasium_pipeline_plans_its_stages():
    from fewgen_tf.config import add_meta_learning, base_config
    from fewgen_tf.methods.lasium import pipeline
    from fewgen_tf.methods.lasium.config import add_lasium

    config = add_lasium(add_meta_learning(base_config()), "vae", "n")
    assert pipeline.stage_names(config) == ["generator", "task generation", "meta-training",
                                            "evaluation", "export"]
    config.eval.supervised_baseline, config.export.enabled = True, False
    assert pipeline.stage_names(config) == ["generator", "task generation", "meta-training",
                                            "supervised baseline", "evaluation"]
