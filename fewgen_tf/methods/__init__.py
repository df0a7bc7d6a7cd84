"""One folder per paper's method: its config vocabulary (`config.py`), models, networks
only it uses, training stages and pipeline(s). A method imports only the shared layers
below it (data, nets, meta, generators, metrics, stages, training, workdir, export,
distribute), never another method; shared code never imports a method: the registries
(`fewgen_tf/pipelines/__init__.py`, `fewgen_tf/generators/registry.py`) name methods by
module path and import them lazily."""
