"""Evaluation statistics: few-shot accuracy with confidence intervals (and, later,
generation metrics). Import submodules directly."""
