"""Evaluation statistics: few-shot accuracy with confidence intervals (`fewshot`),
generative metrics (`generative`) and the small classifier they train (`classifier`).
Import submodules directly."""
