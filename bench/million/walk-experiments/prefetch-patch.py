import sys
p = sys.argv[1]
s = open(p).read()
anchor = """#ifdef USE_SSE
            _mm_prefetch((char *) (visited_array + *(data + 1)), _MM_HINT_T0);
            _mm_prefetch((char *) (visited_array + *(data + 1) + 64), _MM_HINT_T0);
            _mm_prefetch(data_level0_memory_ + (*(data + 1)) * size_data_per_element_ + offsetData_, _MM_HINT_T0);
            _mm_prefetch((char *) (data + 2), _MM_HINT_T0);
#endif
"""
assert s.count(anchor) == 1, s.count(anchor)
# the second occurrence is searchBaseLayerST (the first is searchBaseLayer, used while building)
add = """#ifdef FUNNEL_PREFETCH_LINES
            {
                // Funnel: ask for every neighbour's visited tag, then for the vectors of those not yet
                // visited, before computing any distance, so the misses overlap instead of queueing.
                for (size_t j = 1; j <= size; j++) _mm_prefetch((char *) (visited_array + *(data + j)), _MM_HINT_T0);
                const size_t lines = std::min<size_t>(FUNNEL_PREFETCH_LINES, (data_size_ + 63) / 64);
                for (size_t j = 1; j <= size; j++) {
                    const int id = *(data + j);
#ifdef FUNNEL_PREFETCH_SKIP_VISITED
                    if (visited_array[id] == visited_array_tag) continue;
#endif
                    const char *p = data_level0_memory_ + id * size_data_per_element_ + offsetData_;
                    for (size_t b = 0; b < lines; b++) _mm_prefetch(p + 64 * b, _MM_HINT_T0);
                }
            }
#endif
"""
i = s.index(anchor)
s = s[:i] + anchor + add + s[i + len(anchor):]
open(p, 'w').write(s)
