#!/usr/bin/env bash
# Builds a copy of hnswlib-node with AVX2 flags and the prefetch patch (prefetch-patch.py) into
# $OUT/NAME, for walk-time.cjs. Not part of the product: the experiment behind the prefetch table in
# docs/benchmarks/million-vectors.md "The candidate pool" (no variant was kept).
#   bench/million/walk-experiments/build-variant.sh stock ""
#   bench/million/walk-experiments/build-variant.sh pf4 "-DFUNNEL_PREFETCH_LINES=4"
#   bench/million/walk-experiments/build-variant.sh pf4-skip "-DFUNNEL_PREFETCH_LINES=4 -DFUNNEL_PREFETCH_SKIP_VISITED"
# Without a -D flag the patch compiles to nothing (hnswlib as shipped, with AVX2 kernels).
set -euo pipefail
name=$1; flags=${2:-}
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../../.." && pwd)
out=${OUT:-/tmp/hnsw-walk}/$name
gyp=${NODE_GYP:-$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js}
rm -rf "$out" && mkdir -p "$out/node_modules"
cp -r "$repo/node_modules/hnswlib-node/"{binding.gyp,package.json,src,lib} "$out/"
cp -r "$repo/node_modules/"{node-addon-api,bindings,file-uri-to-path} "$out/node_modules/"
python3 "$here/prefetch-patch.py" "$out/src/hnswlib/hnswalg.h"
(cd "$out" && CXXFLAGS="-O3 -mavx2 -mfma $flags" node "$gyp" rebuild --loglevel=error --nodedir="${NODEDIR:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}" >/dev/null 2>&1)
echo "built $out/build/Release/addon.node"
