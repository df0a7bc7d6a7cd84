#!/usr/bin/env bash
# Supervised Omniglot baseline (LASIUM split): meta-train once on 5-way... episodes of the
# variant's config, evaluate 1000 test tasks 5-way 1-shot, then 5-way 5-shot from the same
# checkpoint (copied to a second workdir, so training is not repeated).
#   bash experiments/supervised_omniglot.sh protonets 6000 /tmp/bench_protonets
# Needs FEWGEN_DATA_DIR (or ../shared/data). Prints wall times; eval.json in each workdir.
set -euo pipefail
algorithm=${1:?algorithm: maml|fomaml|protonets|reptile}
iterations=${2:?meta-iterations}
workdir=${3:-/tmp/bench_supervised_${algorithm}}
export FEWGEN_DATA_DIR=${FEWGEN_DATA_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
cd "$(dirname "$0")/.."
start=$(date +%s)
python -m fewgen_tf.main --config=configs/supervised_omniglot.py:"$algorithm" \
  --workdir="$workdir" --config.meta.iterations="$iterations" "${@:4}"
trained=$(date +%s)
mkdir -p "$workdir-5shot"
cp -r "$workdir/checkpoints" "$workdir-5shot/"
python -m fewgen_tf.main --config=configs/supervised_omniglot.py:"$algorithm" \
  --workdir="$workdir-5shot" --config.meta.iterations="$iterations" --config.eval.shots=5 \
  --config.export.enabled=False "${@:4}"
done=$(date +%s)
echo "{\"algorithm\": \"$algorithm\", \"iterations\": $iterations, \"train_and_1shot_eval_s\": $((trained - start)), \"5shot_eval_s\": $((done - trained))}"
echo "1-shot: $(cat "$workdir/eval.json" | tr -d '\n ')"
echo "5-shot: $(cat "$workdir-5shot/eval.json" | tr -d '\n ')"
