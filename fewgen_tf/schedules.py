"""Learning rates halved at equal intervals: the one schedule COLA's step I (B.1: x0.5 every
quarter), step II (B.2: x0.5 every tenth) and the small-sample classifier (B.3: x0.5 five
times) all use, as a Keras schedule or as a per-step array."""

import numpy as np


def halving_boundaries(total_steps: int, halvings: int) -> list:
    """The steps after which the rate halves: floor(k * total_steps / (halvings + 1)) for
    k = 1..halvings, but at least k, so the boundaries stay increasing on tiny budgets."""
    total, halvings = int(total_steps), int(halvings)
    if halvings < 0:
        raise ValueError(f"the number of halvings must be >= 0, got {halvings}")
    return [max(k, k * total // (halvings + 1)) for k in range(1, halvings + 1)]


def halving_schedule(learning_rate: float, total_steps: int, halvings: int):
    """A keras PiecewiseConstantDecay: `learning_rate` halved `halvings` times at equal
    intervals of `total_steps` (the optimizer's step count)."""
    import keras  # late: the array form below needs no TensorFlow

    boundaries = halving_boundaries(total_steps, halvings)
    if not boundaries:
        return float(learning_rate)
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries, [float(learning_rate) * 0.5 ** i for i in range(halvings + 1)])


def halving_rates(learning_rate: float, steps: int, halvings: int) -> np.ndarray:
    """[steps] the rate of every step under the same schedule (for a hand-written loop)."""
    boundaries = np.array(halving_boundaries(steps, halvings), np.int64)
    done = np.searchsorted(boundaries, np.arange(int(steps)), side="right")
    return float(learning_rate) * 0.5 ** done
