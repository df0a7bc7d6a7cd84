"""Errors that reach the user as one clear line instead of a TensorFlow trace.

`main.py` catches `FewgenError` and prints its message; everything raised for bad
user input (config values, data files, shapes) derives from it.
"""


class FewgenError(Exception):
    """Base class of every error caused by the user's input rather than a bug."""


class ConfigError(FewgenError, ValueError):
    """A config value is unknown, missing or inconsistent."""


class DataError(FewgenError, ValueError):
    """A dataset is missing, malformed, or too small for the requested episodes."""


class TrainingError(FewgenError, RuntimeError):
    """Training cannot go on (a diverged loss, no readable checkpoint); what was saved
    before is kept."""
