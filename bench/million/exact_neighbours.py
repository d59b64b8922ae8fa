"""Exact neighbours for bench-million.ts, by brute force with numpy's BLAS.

Writes <out>.gt.i32 (queries x k labels, full-dim exact top-k, row-major int32) and <out>.gt.json:
  ceiling: recall@k of the *exact* funnel (exact top-(k*oversample) at the truncated dims, rescored at
           full dims), the best any index at those dims can reach at that oversample;
  spectrum: real vs synthetic checks (fraction of variance in the first d dims; recall@k of exact
            search at d dims against exact search at full dims, on equal-sized real and synthetic sets).
usage: exact_neighbours.py DOCS QUERIES DIMS REAL_DOCS REAL_QUERIES OUT K FUNNEL_DIMS OVERSAMPLES
"""
import json
import sys
import time

import numpy as np


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def top_k(docs, queries, k, chunk=50_000):
    """Exact top-k by inner product, scanning docs in chunks so memory stays bounded."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(docs), chunk):
        block = np.ascontiguousarray(docs[start:start + chunk])
        s = queries @ block.T
        kk = min(k, s.shape[1])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], axis=1)
        cand_i = np.concatenate([best_i, part + start], axis=1)
        order = np.argsort(-cand_s, axis=1, kind='stable')[:, :k]
        best_s = np.take_along_axis(cand_s, order, 1)
        best_i = np.take_along_axis(cand_i, order, 1)
        if start // chunk % 5 == 0:
            print(f'  exact scan {min(start + chunk, len(docs))}/{len(docs)}', file=sys.stderr, flush=True)
    return best_i


def recall(found, truth):
    k = truth.shape[1]
    return float(np.mean([len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth)]))


def funnel_exact(docs, queries, truth, d, oversample, k):
    """Recall of exact search at d dims for k*oversample, rescored exactly at full dims, per oversample."""
    short = top_k(unit(docs[:, :d]) if len(docs) <= 50_000 else TruncatedView(docs, d), unit(queries[:, :d]), k * max(oversample))
    out = {}
    for o in oversample:
        rows = []
        for qi, cand in enumerate(short[:, :k * o]):
            scores = np.asarray(docs[np.sort(cand)]) @ queries[qi]
            rows.append(np.sort(cand)[np.argsort(-scores, kind='stable')[:k]])
        out[str(o)] = recall(np.array(rows), truth)
    return out


class TruncatedView:
    """docs[:, :d] renormalised, produced chunk by chunk (a 1M x 384 copy would double memory)."""

    def __init__(self, docs, d):
        self.docs, self.d = docs, d

    def __len__(self):
        return len(self.docs)

    def __getitem__(self, sl):
        return unit(np.asarray(self.docs[sl, :self.d], dtype=np.float32))


def variance_fraction(x, dims_list):
    var = np.var(x, axis=0)
    return {str(d): float(var[:d].sum() / var.sum()) for d in dims_list}


def main():
    docs_f, queries_f, dims, real_docs_f, real_queries_f, out, k, funnel_dims, oversample = sys.argv[1:10]
    dims, k = int(dims), int(k)
    funnel_dims = [int(x) for x in funnel_dims.split(',')]
    oversample = [int(x) for x in oversample.split(',')]
    docs = np.memmap(docs_f, dtype='<f4', mode='r').reshape(-1, dims)
    queries = np.fromfile(queries_f, dtype='<f4').reshape(-1, dims)
    real_docs = np.fromfile(real_docs_f, dtype='<f4').reshape(-1, dims)
    real_queries = np.fromfile(real_queries_f, dtype='<f4').reshape(-1, dims)
    started = time.time()
    truth = top_k(docs, queries, k)
    truth.astype('<i4').tofile(out + '.gt.i32')
    print(f'exact top-{k} at {dims} dims: {time.time() - started:.1f} s', file=sys.stderr, flush=True)
    ceiling = {str(d): funnel_exact(docs, queries, truth, d, oversample, k) for d in funnel_dims}
    # Equal-sized sets so density does not differ: the real corpus against as many synthetic vectors.
    n_real, q_real = len(real_docs), len(real_queries)
    synth_docs = np.asarray(docs[:n_real])
    synth_queries = queries[:q_real]
    spectrum = {'variance_fraction': {'real': variance_fraction(real_docs, funnel_dims),
                                      'synthetic': variance_fraction(np.asarray(docs[:200_000]), funnel_dims)},
                'truncated_exact_recall': {},
                'sets': f'real: {n_real} docs x {q_real} queries; synthetic: the first {n_real} docs x {q_real} queries'}
    for name, d_set, q_set in (('real', unit(real_docs), unit(real_queries)), ('synthetic', synth_docs, synth_queries)):
        full = top_k(d_set, q_set, k)
        spectrum['truncated_exact_recall'][name] = {str(d): funnel_exact(d_set, q_set, full, d, [1, 4], k) for d in funnel_dims}
    json.dump({'k': k, 'queries': len(queries), 'docs': len(docs), 'seconds': time.time() - started,
               'ceiling': ceiling, 'spectrum': spectrum}, open(out + '.gt.json', 'w'), indent=1)


if __name__ == '__main__':
    main()
