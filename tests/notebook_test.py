"""notebooks/quickstart.ipynb runs: the test executes it end to end in a real Jupyter
kernel (nbclient, ipykernel: the test extra) on the CPU, with a tiny budget injected after
its parameters cell, so the notebook cannot rot. A user running it gets the full quickstart."""

import json
import os
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

import tiny_configs
from conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "quickstart.ipynb"
# configs/quickstart.py's main job at a few steps (as tests/cli_test.py's tiny run): 1 VAE
# epoch, 4 meta-iterations, 8 test tasks; about 25 s of the ~45 s the test takes.
TINY = tiny_configs.flags(tiny_configs.QUICKSTART_META,
                          {"generator.epochs": 1, "meta.iterations": 4})


def _read():
    return nbformat.read(NOTEBOOK, as_version=4)


def _parameters_index(nb) -> int:
    found = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(found) == 1, "the notebook needs exactly one code cell tagged 'parameters'"
    return found[0]


def _this_python_kernel() -> AsyncKernelManager:
    """ipykernel on THIS interpreter (sys.executable), whatever kernelspecs the machine has
    registered (a user's `python3` spec may name another Python): no kernelspec directory
    is searched, so jupyter_client falls back to ipykernel's built-in spec, whose command is
    [sys.executable, "-m", "ipykernel_launcher", ...]. Nothing is installed or written."""
    return AsyncKernelManager(kernel_name="python3",
                              kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def test_the_notebook_as_committed_has_no_outputs_and_the_full_quickstart():
    nb = _read()
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        "commit the notebook without outputs (Edit > Clear all outputs)")
    parameters = nb.cells[_parameters_index(nb)].source
    assert "EXTRA_FLAGS = []" in parameters and "WORKDIR = " in parameters
    assert 'REPO_URL = "https://github.com/<OWNER>/fewgen_tf"' in code[0].source
    text = "\n".join(cell.source for cell in nb.cells)
    assert "--config.distribute=auto" in text and "--config.distribute=tpu" in text
    assert "--config=configs/quickstart.py" in text
    kernel = _this_python_kernel()
    assert kernel.kernel_spec.argv[0] == sys.executable


@pytest.mark.slow  # an end-to-end pipeline run, through a Jupyter kernel
def test_the_quickstart_notebook_runs_end_to_end(tmp_path):
    nb = _read()
    workdir = tmp_path / "run"
    nb.cells.insert(_parameters_index(nb) + 1, nbformat.v4.new_code_cell(
        f"WORKDIR = {str(workdir)!r}\nEXTRA_FLAGS = {list(TINY)!r}",
        metadata={"tags": ["injected-parameters"]}))
    # The kernel (and the run it starts) import THIS checkout, whichever one pip installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    client = NotebookClient(nb, km=_this_python_kernel(), timeout=600,
                            resources={"metadata": {"path": str(tmp_path)}})  # the kernel's cwd
    client.execute(cleanup_kc=True, env=env)  # raises CellExecutionError (with the cell's
    # traceback and output) if any cell fails

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    printed = "".join(out.text for out in outputs if out.output_type == "stream")
    # the checkout was found, nothing cloned; the job ran through its five stages
    assert f"fewgen_tf checkout: {REPO_ROOT}" in printed
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert "[5/5] export: done in " in printed
    evaluation = json.loads((workdir / "eval.json").read_text())
    assert evaluation["n"] == 8 and evaluation["algorithm"] == "protonets"
    assert (workdir / "export" / "classifier" / "1" / "saved_model.pb").exists()
    # the pictures: the VAE's samples after its one epoch, then the generated tasks
    shown = [out for out in outputs if out.output_type == "display_data"]
    pictures = [out for out in shown if "image/png" in out.data]
    assert len(pictures) == 2
    assert "samples/generator_epoch0001.png\nsamples/tasks.png" in printed
    # the comparison table, in text and in Markdown
    tables = [out.data for out in shown if "text/markdown" in out.data]
    assert len(tables) == 1
    assert tables[0]["text/plain"].startswith("on the same 8 test tasks (5-way 1-shot")
    summary = json.loads((workdir / "summary.json").read_text())
    lasium = summary["rows"]["lasium"]
    for name in ("lasium ", "untrained ", "supervised ", "not run", "lasium - untrained "):
        assert name in tables[0]["text/plain"]
    assert f"{100 * lasium['mean']:.2f} +- {100 * lasium['ci95']:.2f}" in tables[0]["text/plain"]
    assert "| lasium - untrained |" in tables[0]["text/markdown"]
    # where the other recipes are
    assert "Pipelines (config.pipeline):" in printed and "docs/config.md" in printed
