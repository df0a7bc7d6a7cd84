#!/usr/bin/env bash
#   FEWGEN_DATA_DIR=../shared/data bash benchmarks/compare_maml.sh 500
# fewgen_tf's second-order MAML against a PyTorch reference on IDENTICAL Omniglot tasks
# (lasium split, 5-way 1-shot, 5 training queries, meta-batch 4; evaluation: seed 42,
# 15 queries, 50 inner steps). Arguments: meta-iterations (default 500), then extra flags
# for BOTH trainers (e.g. --first_order, --threads=1). Environment: LIB_FLAGS (flags for
# fewgen_tf only, e.g. "--inter_op_threads=4"; PyTorch runs ops one at a time), EVAL_TASKS (200),
# SEED (0), TORCH_VENV (/tmp/fewgen_torch_venv: made with torch 2.13.0 + numpy if it
# cannot import them; torch is not a library dependency), WORK (/tmp/fewgen_compare_maml).
# Prints each implementation's JSON line, then the accuracy difference and speed ratio.
# Differences between the two are listed in benchmarks/maml_reference_torch.py.
set -euo pipefail
iterations=${1:-500}
extra=("${@:2}")
seed=${SEED:-0}
venv=${TORCH_VENV:-/tmp/fewgen_torch_venv}
work=${WORK:-/tmp/fewgen_compare_maml}
export FEWGEN_DATA_DIR=${FEWGEN_DATA_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
cd "$(dirname "$0")/.."
mkdir -p "$work"
trap 'echo "failed; logs in $work:" >&2; tail -n 5 "$work"/*.log >&2' ERR

if ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
  python -m venv "$venv"
  "$venv/bin/pip" install --quiet torch==2.13.0 numpy
fi

python benchmarks/export_episodes.py --iterations="$iterations" --seed="$seed" \
  --eval_tasks="${EVAL_TASKS:-200}" --out="$work/episodes.npz" 2>"$work/export.log"
"$venv/bin/python" benchmarks/maml_reference_torch.py --episodes="$work/episodes.npz" \
  --seed="$seed" "${extra[@]}" | tail -n 1 | tee "$work/torch.json"
python benchmarks/maml_library_on_episodes.py --episodes="$work/episodes.npz" \
  --seed="$seed" "${extra[@]}" ${LIB_FLAGS:-} 2>"$work/fewgen_tf.log" | tail -n 1 | tee "$work/fewgen_tf.json"

python - "$work/torch.json" "$work/fewgen_tf.json" <<'EOF'
import json, sys
torch, lib = (json.load(open(path)) for path in sys.argv[1:])
diff = lib["accuracy_mean"] - torch["accuracy_mean"]
print(f"accuracy fewgen_tf - torch: {diff:+.4f} (ci95 {lib['ci95']:.4f} / {torch['ci95']:.4f})")
print(f"speed fewgen_tf / torch: {lib['iterations_per_s'] / torch['iterations_per_s']:.2f}x "
      f"meta-iterations/s, {torch['eval_s'] / lib['eval_s']:.2f}x evaluation")
EOF
