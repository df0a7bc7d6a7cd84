"""The halving learning-rate schedule (COLA B.1-B.3): hand values, the Keras and array
forms agree, clear errors."""

import numpy as np
import pytest

from fewgen_tf import schedules


def test_learning_rate_halved_on_the_fixed_schedule():
    rates = schedules.halving_rates(0.1, 180, 5)  # the paper's 180 epochs, x0.5 every 30
    changes = np.flatnonzero(np.diff(rates)) + 1
    assert changes.tolist() == [30, 60, 90, 120, 150]
    np.testing.assert_allclose(rates[[0, 29, 30, 179]], [0.1, 0.1, 0.05, 0.1 / 32])
    np.testing.assert_array_equal(schedules.halving_rates(0.1, 7, 0), 0.1)
    with pytest.raises(ValueError, match="halvings"):
        schedules.halving_rates(0.1, 7, -1)


def test_boundaries_by_hand_and_on_tiny_budgets():
    assert schedules.halving_boundaries(200, 3) == [50, 100, 150]  # B.1: every quarter
    assert schedules.halving_boundaries(500, 9) == list(range(50, 500, 50))  # B.2: tenths
    assert schedules.halving_boundaries(2, 3) == [1, 2, 3]  # still increasing


def test_keras_schedule_follows_the_boundaries():
    schedule = schedules.halving_schedule(0.08, 200, 3)
    values = [float(schedule(step)) for step in (0, 50, 51, 100, 101, 151, 10_000)]
    np.testing.assert_allclose(values, [0.08, 0.08, 0.04, 0.04, 0.02, 0.01, 0.01])
    assert schedules.halving_schedule(0.1, 10, 0) == 0.1
