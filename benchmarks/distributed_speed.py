r"""What `--config.distribute=mirrored` with `--config.cpu_devices=2` costs or gains on a
CPU, against one device, for the two methods issue 44 distributed: Meta-FAVAE (its
`:favae` recipe with a meta-batch of 2 tasks, one per replica) and COLA (`cola_mnist.py:
cola_2h`'s step I and step II for one epoch each on MNIST). Each run is the CLI in a
fresh process and workdir; the numbers are the pipelines' own: Meta-FAVAE's
meta-iterations/s of its last epoch (metrics.jsonl, phase `meta_favae_speed`), COLA's
step I / step II seconds (phase `cola_timing`), and the wall time. One JSON line per run.

  FEWGEN_DATA_DIR=../shared/data python benchmarks/distributed_speed.py [--runs=meta_favae,cola]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATEGIES = {"one device": ("--config.distribute=default",),
              "mirrored, 2 CPU devices": ("--config.distribute=mirrored",
                                          "--config.cpu_devices=2")}
RUNS = {
    "meta_favae": ("--config=configs/meta_favae_omniglot.py:favae",
                   "--config.meta_favae.meta_batch=2", "--config.generator.iterations=20",
                   "--config.meta_favae.steps_per_epoch=10", "--config.meta_favae.evaluate=false",
                   "--config.meta_favae.grid_classes=0", "--config.export.enabled=false"),
    "cola": ("--config=configs/cola_mnist.py:cola_2h", "--config.cola.cluster_epochs=1",
             "--config.generator.epochs=1", "--config.export.enabled=false",
             "--config.gen_eval.classifier_steps=1"),
}


def _phase(workdir, phase):
    path = os.path.join(workdir, "metrics.jsonl")
    with open(path) as f:
        return [r for r in map(json.loads, f) if r.get("phase") == phase]


def measure(name, strategy):
    workdir = tempfile.mkdtemp(prefix=f"distributed_speed_{name}_")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "fewgen_tf.main", *RUNS[name],
                             *STRATEGIES[strategy], f"--workdir={workdir}"], cwd=REPO_ROOT,
                            capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{name} under {strategy} failed:\n{result.stderr[-3000:]}")
    line = {"run": name, "strategy": strategy, "wall_s": round(wall, 1)}
    if name == "meta_favae":
        line["meta_iterations_per_s"] = round(_phase(workdir, "meta_favae_speed")[-1]
                                              ["meta_iterations_per_s"], 3)
    else:
        timing = _phase(workdir, "cola_timing")[-1]
        line.update({k: round(timing[k], 1) for k in ("step1_seconds", "step2_seconds")})
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=",".join(RUNS))
    args = parser.parse_args()
    for name in args.runs.split(","):
        for strategy in STRATEGIES:
            print(json.dumps(measure(name, strategy)), flush=True)


if __name__ == "__main__":
    main()
