"""Shared test fixtures: where the real datasets are, and a small synthetic config.

Real data comes from $FEWGEN_DATA_DIR, else ../shared/data beside the repository;
tests that need it skip (with the reason) when it is absent.
"""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so MirroredStrategy tests can compare 2 replicas with one
# device. This must happen before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def tree_snapshot(root, mtimes=False) -> dict:
    """Every file under `root`: {relative path: bytes} (with `mtimes`: (bytes, mtime_ns)),
    to assert that a run or an export left a directory exactly as it was."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                data = f.read()
            key = os.path.relpath(path, root)
            found[key] = (data, os.stat(path).st_mtime_ns) if mtimes else data
    return found


def shared_data_dir() -> pathlib.Path:
    env = os.environ.get("FEWGEN_DATA_DIR")
    return pathlib.Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def _require(relative: str) -> pathlib.Path:
    path = shared_data_dir() / relative
    if not path.exists():
        pytest.skip(f"real data {path} is absent (set FEWGEN_DATA_DIR or put shared/data "
                    "beside the repository)")
    return path


@pytest.fixture(scope="session")
def data_root() -> pathlib.Path:
    return _require("")


@pytest.fixture(scope="session")
def omniglot_dir() -> pathlib.Path:
    return _require("omniglot/images_background.npz").parent


@pytest.fixture(scope="session")
def mnist_dir() -> pathlib.Path:
    return _require("mnist/t10k-images-idx3-ubyte.gz").parent


@pytest.fixture(scope="session")
def celeba_dir() -> pathlib.Path:
    return _require("celeba32/000001.jpg").parent


@pytest.fixture
def synthetic_config():
    """The quickstart-sized synthetic data config: 30 glyph classes of 12 images."""
    import tiny_configs
    from fewgen_tf.config import base_config

    return tiny_configs.apply(base_config(), tiny_configs.SYNTHETIC)


def config_module(name):
    """configs/NAME.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "configs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_configs():
    """(name, config) of every shipped config file and variant ("file:variant")."""
    for path in sorted((REPO_ROOT / "configs").glob("*.py")):
        module = config_module(path.stem)
        variants = getattr(module, "VARIANTS", None)
        if variants:
            for variant in variants:
                yield f"{path.stem}:{variant}", module.get_config(variant)
        else:
            yield path.stem, module.get_config()
