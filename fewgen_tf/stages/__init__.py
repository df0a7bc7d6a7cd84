"""Stages: the workdir-level parts a pipeline is made of when several pipelines share
them (train or reload a registered generator, meta-learn and evaluate a few-shot
classifier, the few-shot generation protocol). A stage writes checkpoints, metrics and
samples into the workdir; a pipeline wires stages and owns no maths."""
