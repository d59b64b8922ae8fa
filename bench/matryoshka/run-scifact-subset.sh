#!/usr/bin/env bash
# The SciFact-subset comparison of docs/benchmarks/matryoshka.md §2: embed the nested subset with each
# model (resumable; EmbeddingGemma takes hours on 2 CPU cores), then score every model on the same N
# documents (every judged document first, then seeded others), for a 100-hit and a 10-hit search.
#
# usage: bench/matryoshka/run-scifact-subset.sh embed [N]     # embed N documents per model (default 1000)
#        bench/matryoshka/run-scifact-subset.sh score N       # score all three on the first N of the subset
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=../shared/datasets/scifact
MODELS=(google/embeddinggemma-300m BAAI/bge-small-en-v1.5 sentence-transformers/all-MiniLM-L6-v2)
case "${1:-}" in
  embed)
    for m in "${MODELS[@]}"; do
      nice -n 10 npx tsx bench/matryoshka/embed.ts --dataset "$DATA" --model "$m" --subset "${2:-1000}" --chunk 32
    done
    ;;
  score)
    n=${2:?N}
    for k in 100 10; do
      nice -n 10 npx tsx bench/matryoshka/truncation-eval.ts --dataset "$DATA" --model google/embeddinggemma-300m --subset "$n" \
        --top-k "$k" --dims 768,512,256,128 --index-dims 256,128 --oversample 1,4,10
      for m in BAAI/bge-small-en-v1.5 sentence-transformers/all-MiniLM-L6-v2; do
        nice -n 10 npx tsx bench/matryoshka/truncation-eval.ts --dataset "$DATA" --model "$m" --subset "$n" \
          --top-k "$k" --dims 384,192,128,96 --index-dims 192,128,96 --oversample 1,4,10
      done
    done
    ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
