#!/usr/bin/env bash
# fastembed_int8.sh: Python fastembed's SparseTextEmbedding against spladeq's
# encoder at fp32 and int8, on the same texts and threads, the four passes
# alternated round by round so they see the same machine state.
#
#   tools/bench/fastembed_int8.sh DIR CORPUS.jsonl [ROUNDS] [TEXTS]
#
# DIR is a model directory with model.onnx and model.int8.onnx (`make models`
# writes both for .deps/models/splade-mini). fastembed runs each graph through
# its SPLADE++ class (specific_model_path, offline), from a scratch directory
# holding DIR's tokenizer files and the graph as model.onnx. Needs a Python
# with fastembed (FASTEMBED_PY, default python3; 0.9.1 was used) and
# special_tokens_map.json, written from the BERT tokens when DIR lacks it.
# Prints one Markdown row per round: load average, the four docs/s figures,
# and the ratios spladeq int8 / fastembed fp32 and / fastembed int8.
set -euo pipefail
dir=$1 corpus=$2 rounds=${3:-3} texts=${4:-128}
py=${FASTEMBED_PY:-python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
threads=2 iters=3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for q in fp32 int8; do
  mkdir -p "$scratch/$q"
  for f in tokenizer.json tokenizer_config.json config.json special_tokens_map.json; do
    [[ -f "$dir/$f" ]] && cp "$dir/$f" "$scratch/$q/"
  done
  [[ -f "$scratch/$q/special_tokens_map.json" ]] ||
    echo '{"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}' > "$scratch/$q/special_tokens_map.json"
done
ln -s "$(realpath "$dir/model.onnx")" "$scratch/fp32/model.onnx"
ln -s "$(realpath "$dir/model.int8.onnx")" "$scratch/int8/model.onnx"
(cd "$root" && go build -o "$scratch/encodetime" ./tools/bench/encodetime)

docs() { sed -n 's/.*: \([0-9.]*\) docs\/s.*/\1/p'; }
fe() { HF_HUB_OFFLINE=1 "$py" "$root/tools/bench/fastembed_splade.py" "$scratch/$1" "$corpus" --texts "$texts" --threads $threads --iterations $iters | docs; }
sq() { "$scratch/encodetime" -model "$dir" -quantize "$1" -corpus "$corpus" -texts "$texts" -iterations $iters -threads $threads | docs; }

echo "| round | load (1 min) | fastembed fp32 | fastembed int8 | spladeq fp32 | spladeq int8 | spladeq int8 / fastembed fp32 | spladeq int8 / fastembed int8 | spladeq int8 / spladeq fp32 |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  fe32=$(fe fp32); sq8=$(sq int8); fe8=$(fe int8); sq32=$(sq fp32)
  awk -v r="$r" -v l="$load" -v a="$fe32" -v b="$fe8" -v c="$sq32" -v d="$sq8" 'BEGIN {
    printf "| %s | %s | %s | %s | %s | %s | %.2f× | %.2f× | %.2f× |\n", r, l, a, b, c, d, d/a, d/b, d/c }'
done
