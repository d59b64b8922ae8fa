import t from 'tap'
import { judgeGoals, type Row } from '../../../bench/million/goals.js'
import { Progress, formatDuration, recallAtK } from '../../../bench/million/measure.js'

t.test('recallAtK: the share of exact neighbours found, over all queries', async (t) => {
  const truth = Int32Array.from([1, 2, 3, 7, 8, 9])
  t.equal(recallAtK([[1, 2, 3], [7, 8, 9]], truth, 3), 1)
  t.equal(recallAtK([[3, 2, 4], [9, 0, 0]], truth, 3), 0.5)
  t.equal(recallAtK([[1, 2, 3, 4], [4, 5, 6, 7]], truth, 3), 0.5, 'only the first k results count')
  t.throws(() => recallAtK([[1]], truth, 3), /1 result lists but 2 truth rows/)
})

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(12.4), '12s')
  t.equal(formatDuration(245), '4m05s')
  t.equal(formatDuration(3720), '1h02m')
  t.equal(formatDuration(Infinity), '?')
})

t.test('Progress: prints the count, the rate and an ETA, then done once', async (t) => {
  const written: string[] = []
  t.intercept(process.stderr, 'write', { value: (chunk: string) => written.push(chunk) })
  const progress = new Progress('build', 100, 0)
  progress.tick(50)
  progress.tick(100)
  progress.tick(100)
  t.equal(written.length, 2)
  t.match(written[0], /^build 50\/100 \(50\.0%\) \d+\/s, \d+s elapsed, ETA /)
  t.match(written[1], /done\n$/)
})

const row = (over: Partial<Row>): Row => ({
  engine: 'hnswlib', index_dims: 96, oversample: 1, ef_search: 64, build_s: 1, index_bytes: 100, rescore_bytes: 200,
  rss_mb: 1, rss_delta_mb: 1, recall: 0.9, qps: 100, p50_ms: 1, p99_ms: 2, ...over,
})

t.test('judgeGoals: the fastest funnel row at the target recall, against full dims and FAISS at that recall', async (t) => {
  const rows = [
    row({ engine: 'hnswlib', index_dims: 384, ef_search: 32, recall: 0.93, qps: 900, index_bytes: 400, rescore_bytes: 0 }),
    row({ engine: 'hnswlib', index_dims: 384, ef_search: 64, recall: 0.97, qps: 500, index_bytes: 400, rescore_bytes: 0 }),
    row({ oversample: 4, recall: 0.96, qps: 1200 }),
    row({ oversample: 10, recall: 0.99, qps: 800 }),
    row({ oversample: 2, recall: 0.9, qps: 3000 }),
    row({ engine: 'faiss', oversample: 4, recall: 0.965, qps: 2400 }),
  ]
  const report = judgeGoals(rows, 384, 96)
  t.equal(report.funnel?.oversample, 4, 'the fastest row at ≥ 0.95, not the fastest overall')
  t.equal(report.fullDimAtSameRecall?.ef_search, 64, 'the full-dim row must reach the funnel row recall')
  t.equal(report.speedupVsFullDim, 2.4)
  t.ok(Math.abs(report.speedupInterpolated! - 2) < 1e-9, 'full dims interpolated at 0.96 between 0.93 @ 900 and 0.97 @ 500: 600 QPS, so 2×')
  t.match(report.lines.join('\n'), /interpolated between full-dim ef 32 \(0\.930, 900 QPS\) and ef 64 \(0\.970, 500 QPS\): full dims ≈ 600 QPS at 0\.960, the funnel 2\.00×/)
  t.equal(report.memoryRatio, 0.25)
  t.equal(report.memoryRatioWithRescore, 0.75)
  t.equal(report.faissQpsRatio, 2)
  t.match(report.lines.join('\n'), /≥ 2× full-dim QPS at the same recall: met[\s\S]*within 1\.5× of FAISS HNSW\+refine at equal recall: MISSED/)
})

t.test('judgeGoals: a funnel short of the target says so, and is judged on at its best recall', async (t) => {
  const full = row({ index_dims: 384, ef_search: 128, recall: 0.9, qps: 100, index_bytes: 400, rescore_bytes: 0 })
  const report = judgeGoals([row({ recall: 0.8, qps: 500 }), row({ oversample: 40, recall: 0.85, qps: 300 }), full], 384, 96)
  t.equal(report.recallMet, false)
  t.equal(report.funnel?.oversample, 40)
  t.match(report.lines[0], /MISSED \(best measured 0\.850, at oversample 40/)
  t.equal(report.speedupVsFullDim, 3)
})
