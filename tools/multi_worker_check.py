r"""Tiny runs of the COLA-family pipelines on two workers (127.0.0.1, TF_CONFIG) beside a
single-process run: each finishes, only the chief writes the workdir, and the result
files side by side (issue 44; benchmarks/RESULTS.md, section "Distributing COLA and
Meta-FAVAE"). The configurations are tests/distribute_test.py's `_TINY_COLA` (without
its mirrored flags), run through tests/multi_worker_test.py's helpers.

  python tools/multi_worker_check.py [scola] [small_sample] [lasium_best] [cola]
"""

import json
import os
import pathlib
import sys
import tempfile

TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
RESULT_FILE = {"small_sample": "small_sample.json", "lasium_best": "eval.json"}


def main(names):
    sys.path.insert(0, TESTS)
    import distribute_test
    import multi_worker_test

    for name in names or sorted(distribute_test._TINY_COLA):
        args = tuple(a for a in distribute_test._TINY_COLA[name]
                     if not a.startswith(("--config.distribute", "--config.cpu_devices")))
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"multi_worker_{name}_"))
        multi_worker_test._cluster_run(tmp, tmp / "cluster",
                                       args + (f"--config.gen_eval.feature_cache={tmp / 'c1'}",))
        multi_worker_test._single_run(tmp, tmp / "single",
                                      args + (f"--config.gen_eval.feature_cache={tmp / 'c2'}",))
        result = RESULT_FILE.get(name, "gen_eval.json")
        print(json.dumps({
            "pipeline": name,
            "same_files": multi_worker_test._files(tmp / "cluster")
            == multi_worker_test._files(tmp / "single"),
            "other_worker_left_nothing": not any((tmp / "tmp1").iterdir()),
            "two_workers": json.loads((tmp / "cluster" / result).read_text()),
            "one_process": json.loads((tmp / "single" / result).read_text())}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
