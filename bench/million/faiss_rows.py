"""The FAISS peer rows for bench-million.ts: IndexHNSWFlat on the first d dims (renormalised) wrapped in
IndexRefineFlat (exact float32 rescoring at full dims, k_factor = oversample), one OpenMP thread for
build and queries so times compare with Node's single thread. Writes a JSON list of rows to OUT.
usage: faiss_rows.py DOCS QUERIES DIMS GT OUT K M EF_CONSTRUCTION INDEX_DIMS OVERSAMPLES FUNNEL_EFS FULL_DIM_EFS
"""
import json
import os
import resource
import sys
import tempfile
import time

import faiss
import numpy as np


def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def build(docs, dims, d, m, ef_construction):
    """HNSW over docs[:, :d] renormalised, behind an exact full-dim refine when d < dims."""
    hnsw = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    if d == dims:
        base = hnsw
    else:
        base = faiss.IndexPreTransform(hnsw)
        base.prepend_transform(faiss.NormalizationTransform(d))
        base.prepend_transform(faiss.RemapDimensionsTransform(dims, d, False))
    index = faiss.IndexRefineFlat(base) if d < dims else base
    chunk = 20_000
    started = time.time()
    for start in range(0, len(docs), chunk):
        index.add(np.ascontiguousarray(docs[start:start + chunk]))
        done = min(start + chunk, len(docs))
        el = time.time() - started
        print(f'faiss build d={d} {done}/{len(docs)} ({100 * done / len(docs):.1f}%) {done / el:.0f}/s, '
              f'ETA {(len(docs) - done) / (done / el):.0f} s', file=sys.stderr, flush=True)
    return index, hnsw, time.time() - started


def index_bytes(index):
    with tempfile.NamedTemporaryFile(dir=os.environ.get('FAISS_TMP')) as f:
        faiss.write_index(index, f.name)
        return os.path.getsize(f.name)


KEEP = []


def hnsw_of(index):
    """The IndexHNSWFlat inside a loaded index (bare, or behind RefineFlat and PreTransform)."""
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexRefineFlat):
        inner = faiss.downcast_index(inner.base_index)
    if isinstance(inner, faiss.IndexPreTransform):
        inner = faiss.downcast_index(inner.index)
    return inner


def cached_build(docs, docs_f, dims, d, m, ef_construction):
    """build(), saved under FAISS_TMP and reused by a later run on the same docs file and settings
    (its build time is the one recorded when it was built)."""
    cache_dir = os.environ.get('FAISS_TMP')
    if cache_dir is None:
        index, hnsw, seconds = build(docs, dims, d, m, ef_construction)
        return index, hnsw, seconds, index_bytes(index), False
    stem = os.path.join(cache_dir, f'{os.path.basename(docs_f)}.faiss{d}.m{m}.efc{ef_construction}')
    meta_f = stem + '.build.json'
    if os.path.exists(meta_f):
        meta = json.load(open(meta_f))
        if meta.get('size') == os.path.getsize(docs_f) and os.path.exists(stem + '.index'):
            loaded = faiss.read_index(stem + '.index')
            # The downcast wrappers do not own the C++ index: KEEP holds the owner as long as they are used.
            KEEP.append(loaded)
            index = faiss.downcast_index(loaded)
            return index, hnsw_of(index), meta['seconds'], os.path.getsize(stem + '.index'), True
    index, hnsw, seconds = build(docs, dims, d, m, ef_construction)
    faiss.write_index(index, stem + '.index')
    json.dump({'seconds': seconds, 'size': os.path.getsize(docs_f)}, open(meta_f, 'w'))
    return index, hnsw, seconds, os.path.getsize(stem + '.index'), False


def main():
    docs_f, queries_f, dims, gt_f, out, k, m, ef_c, index_dims, oversample, funnel_efs, full_efs = sys.argv[1:13]
    dims, k, m, ef_c = int(dims), int(k), int(m), int(ef_c)
    faiss.omp_set_num_threads(1)
    docs = np.memmap(docs_f, dtype='<f4', mode='r').reshape(-1, dims)
    queries = np.fromfile(queries_f, dtype='<f4').reshape(-1, dims)
    truth = np.fromfile(gt_f, dtype='<i4').reshape(-1, k)
    rows = []
    for d in [int(x) for x in index_dims.split(',')]:
        rss_before = rss_mb()
        index, hnsw, seconds, total_bytes, cached = cached_build(docs, docs_f, dims, d, m, ef_c)
        if cached:
            print(f'faiss d={d}: reused the index built in {seconds:.0f} s by an earlier run', file=sys.stderr, flush=True)
        refine_bytes = len(docs) * dims * 4 if d < dims else 0
        rss_after = rss_mb()
        for o in ([int(x) for x in oversample.split(',')] if d < dims else [1]):
            if d < dims:
                index.k_factor = o
            ef_list = [int(x) for x in (funnel_efs if d < dims else full_efs).split(',')]
            # FAISS 1.15 does not widen efSearch to the k asked of HNSW (it returns about efSearch hits, the
            # rest -1), so set it to max(ef, k * k_factor) as DenseIndex does; a smaller ef repeats a row.
            for ef in [e for i, e in enumerate(ef_list) if i == 0 or e > k * o]:
                hnsw.hnsw.efSearch = max(ef, k * o)
                for q in queries[:50]:
                    index.search(q[None, :], k)  # warm-up
                lat, found = [], []
                for q in queries:
                    t = time.perf_counter()
                    _, labels = index.search(q[None, :], k)
                    lat.append((time.perf_counter() - t) * 1000)
                    found.append(labels[0])
                hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth))
                rows.append({'engine': 'faiss', 'index_dims': d, 'oversample': o, 'ef_search': max(ef, k * o),
                             'build_s': seconds, 'index_bytes': total_bytes - refine_bytes, 'rescore_bytes': refine_bytes,
                             'rss_mb': rss_after, 'rss_delta_mb': rss_after - rss_before,
                             'recall': hits / (len(found) * k), 'qps': 1000 / np.mean(lat),
                             'p50_ms': float(np.percentile(lat, 50)), 'p99_ms': float(np.percentile(lat, 99))})
                r = rows[-1]
                print(f"faiss d={d} os={o} ef={ef}: recall {r['recall']:.3f} qps {r['qps']:.0f}", file=sys.stderr, flush=True)
        del index, hnsw
        KEEP.clear()
    json.dump({'faiss': faiss.__version__, 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'rows': rows},
              open(out, 'w'), indent=1)


if __name__ == '__main__':
    main()
