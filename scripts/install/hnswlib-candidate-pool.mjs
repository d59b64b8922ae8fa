// A source patch for the copy of hnswlib-node that build-hnswlib-avx2.mjs compiles: the "candidate
// pool". hnswlib's searchKnn(k) walks the graph with ef = max(ef, k) and answers the best k of its
// final ef list. The Matryoshka funnel asks for k × oversample candidates (1,000 at ×100) only to
// rescore them at full dims, so it paid for a walk of width 1,000. With the pool on, the walk keeps
// its own ef and the answer is the best k of *every* node whose distance the walk computed (thousands
// at ef 200), which holds nearly all of the wider walk's near candidates at a fraction of its cost
// (docs/benchmarks/million-vectors.md "The candidate pool").
//
// What it adds: `setCandidatePool(on)` on HierarchicalNSW (JS and C++). Off, the addon behaves exactly
// as npm's build. On, searchKnn without a filter collects each scored live node (deleted ones are
// skipped as hnswlib skips them) and selects the k best; with a filter function it searches as usual
// (a JS filter per scored node would cost more than it saves). Results stay sorted by distance.
//
// Each edit replaces one exact piece of hnswlib-node 3.0.0's source; a missing piece throws, and the
// build script then compiles the copy unpatched (the product falls back to plain searches).
// Plain JavaScript, no dependencies: it runs inside `npm ci`.

/** Replaces the one occurrence of `from` in `text`, or throws naming the piece. */
function replaceOnce(text, from, to, what) {
  const at = text.indexOf(from)
  if (at === -1 || text.indexOf(from, at + 1) !== -1) throw new Error(`hnswlib source changed: ${what} not found exactly once`)
  return text.slice(0, at) + to + text.slice(at + from.length)
}

/** hnswalg.h with the pool: a flag, an out-list of scored nodes in the base-layer search, selection in searchKnn. */
export function patchHnswalg(source) {
  let s = source
  s = replaceOnce(
    s,
    '    void setEf(size_t ef) {\n        ef_ = ef;\n    }\n',
    '    void setEf(size_t ef) {\n        ef_ = ef;\n    }\n\n' +
      '    // Funnel: searchKnn(k) walks with ef_ and answers the best k of every node it scored.\n' +
      '    bool candidate_pool_{ false };\n' +
      '    void setCandidatePool(bool on) {\n        candidate_pool_ = on;\n    }\n',
    'setEf',
  )
  s = replaceOnce(
    s,
    '        BaseSearchStopCondition<dist_t>* stop_condition = nullptr) const {\n        VisitedList *vl = visited_list_pool_->getFreeVisitedList();',
    '        BaseSearchStopCondition<dist_t>* stop_condition = nullptr,\n' +
      '        std::vector<std::pair<dist_t, tableint>>* scored = nullptr) const {\n        VisitedList *vl = visited_list_pool_->getFreeVisitedList();',
    'searchBaseLayerST signature',
  )
  s = replaceOnce(
    s,
    '            dist_t dist = fstdistfunc_(data_point, ep_data, dist_func_param_);\n            lowerBound = dist;\n',
    '            dist_t dist = fstdistfunc_(data_point, ep_data, dist_func_param_);\n            lowerBound = dist;\n' +
      '            if (scored) scored->emplace_back(dist, ep_id);\n',
    'searchBaseLayerST entry point',
  )
  s = replaceOnce(
    s,
    '                    char *currObj1 = (getDataByInternalId(candidate_id));\n                    dist_t dist = fstdistfunc_(data_point, currObj1, dist_func_param_);\n',
    '                    char *currObj1 = (getDataByInternalId(candidate_id));\n                    dist_t dist = fstdistfunc_(data_point, currObj1, dist_func_param_);\n' +
      '                    if (scored && (bare_bone_search || !isMarkedDeleted(candidate_id))) scored->emplace_back(dist, candidate_id);\n',
    'searchBaseLayerST neighbour distance',
  )
  // searchKnn: the pool's branch goes between the bare-bone flag and hnswlib's own base-layer call.
  const bareBone = '        bool bare_bone_search = !num_deleted_ && !isIdAllowed;\n'
  const baseLayerCall = [
    '        if (bare_bone_search) {',
    '            top_candidates = searchBaseLayerST<true>(',
    '                    currObj, query_data, std::max(ef_, k), isIdAllowed);',
    '        } else {',
    '            top_candidates = searchBaseLayerST<false>(',
    '                    currObj, query_data, std::max(ef_, k), isIdAllowed);',
    '        }',
    '',
  ].join('\n')
  const poolBranch = [
    '        if (candidate_pool_ && !isIdAllowed) {',
    '            // Funnel: walk with ef_, then the best k of every live node the walk scored.',
    '            std::vector<std::pair<dist_t, tableint>> scored;',
    '            scored.reserve(std::max(ef_, k) * 8);',
    '            if (bare_bone_search) searchBaseLayerST<true>(currObj, query_data, std::max(ef_, (size_t) 1), isIdAllowed, nullptr, &scored);',
    '            else searchBaseLayerST<false>(currObj, query_data, std::max(ef_, (size_t) 1), isIdAllowed, nullptr, &scored);',
    '            const size_t n = std::min(k, scored.size());',
    '            auto closer = [](const std::pair<dist_t, tableint> &a, const std::pair<dist_t, tableint> &b) { return a.first < b.first; };',
    '            if (n < scored.size()) std::nth_element(scored.begin(), scored.begin() + n, scored.end(), closer);',
    '            for (size_t i = 0; i < n; i++) result.push(std::pair<dist_t, labeltype>(scored[i].first, getExternalLabel(scored[i].second)));',
    '            return result;',
    '        }',
    '',
  ].join('\n')
  s = replaceOnce(s, bareBone + baseLayerCall, bareBone + poolBranch + baseLayerCall, 'searchKnn base-layer call')
  return s
}

/** addon.cc with `setCandidatePool(on: boolean)` on the JS HierarchicalNSW class. */
export function patchAddon(source) {
  let s = source
  s = replaceOnce(
    s,
    '      InstanceMethod("setEf", &HierarchicalNSW::setEf)\n',
    '      InstanceMethod("setEf", &HierarchicalNSW::setEf),\n      InstanceMethod("setCandidatePool", &HierarchicalNSW::setCandidatePool)\n',
    'the setEf method table entry',
  )
  const setEfEnd = '    const uint32_t ef = info[0].As<Napi::Number>().Uint32Value();\n    index_->setEf(static_cast<size_t>(ef));\n\n    return env.Null();\n  }\n'
  s = replaceOnce(
    s,
    setEfEnd,
    setEfEnd +
      [
        '',
        '  Napi::Value setCandidatePool(const Napi::CallbackInfo& info) {',
        '    Napi::Env env = info.Env();',
        '    if (info.Length() != 1 || !info[0].IsBoolean()) {',
        '      Napi::TypeError::New(env, "Expected 1 boolean argument.").ThrowAsJavaScriptException();',
        '      return env.Null();',
        '    }',
        '    if (index_ == nullptr) {',
        '      Napi::Error::New(env, "Search index has not been initialized, call `initIndex` in advance.").ThrowAsJavaScriptException();',
        '      return env.Null();',
        '    }',
        '    index_->setCandidatePool(info[0].As<Napi::Boolean>().Value());',
        '    return env.Null();',
        '  }',
        '',
      ].join('\n'),
    'the body of setEf',
  )
  return s
}
