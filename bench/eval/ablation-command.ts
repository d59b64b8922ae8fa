import os from 'node:os'
import path from 'node:path'
import type { SearchRequest } from '../../src/pipeline/search.js'
import { parseCommand, positiveInt } from '../lib/args.js'
import { indexBeirCorpus, openHarness } from '../lib/harness.js'
import { resultPath, sharedDataset, writeResult } from '../lib/paths.js'
import { machineInfo, markdownTable } from '../lib/report.js'
import { runEvaluation } from './run-evaluation.js'

const USAGE = `usage: npm run eval:ablation -- [--dataset DIR ...] [--model ID] [--split test] [--prf-depth 10]

For each dataset: dense, lexical and hybrid retrieval, each without PRF, with PRF and no drift guard,
and with the guarded PRF; prints nDCG@10, Recall@100, MRR@10 and latency (p50, and what PRF adds).
`

interface Variant {
  mode: 'dense' | 'lexical' | 'hybrid'
  prf: 'off' | 'unguarded' | 'guarded'
}

async function main(): Promise<void> {
  const values = parseCommand(USAGE, {
    dataset: { type: 'string', multiple: true },
    model: { type: 'string' },
    split: { type: 'string', default: 'test' },
    'prf-depth': { type: 'string', default: '10' },
    'data-dir': { type: 'string' },
    modes: { type: 'string', default: 'dense,lexical,hybrid' },
    collection: { type: 'string' },
    out: { type: 'string' },
  })
  const datasets = (values.dataset ?? [sharedDataset('scifact'), sharedDataset('cranfield')]).map((d) => path.resolve(d))
  const depth = positiveInt('prf-depth', values['prf-depth'])
  const modes = values.modes.split(',') as Variant['mode'][]
  const variants: Variant[] = modes.flatMap((mode) => (['off', 'unguarded', 'guarded'] as const).map((prf) => ({ mode, prf })))
  const app = await openHarness({ dataDir: values['data-dir'] ?? path.join(os.tmpdir(), 'funnel-ablation'), ...(values.model !== undefined && { embeddingModel: values.model }) })
  const rows: Record<string, unknown>[] = []
  try {
    const model = values.model ?? app.models.defaultModelId
    for (const datasetDir of datasets) {
      const dataset = path.basename(datasetDir)
      // --collection reuses a collection indexed earlier (e.g. by npm run eval) for a single dataset.
      const collection = values.collection ?? `abl-${dataset}-${model.replace(/[^A-Za-z0-9]/g, '-')}`.slice(0, 64)
      await indexBeirCorpus(app, datasetDir, { collection, model, reuse: true })
      const baseline = new Map<string, number>()
      for (const variant of variants) {
        const request: Omit<SearchRequest, 'query'> = {
          top_k: 100,
          include: [],
          mode: variant.mode,
          ...(variant.prf !== 'off' && { prf: { enabled: true, depth: depth, guard: variant.prf === 'guarded' } }),
        }
        const outcome = await runEvaluation(app, collection, datasetDir, values.split, request, `${dataset} ${variant.mode} prf=${variant.prf}`)
        if (variant.prf === 'off') baseline.set(variant.mode, outcome.latency.p50)
        rows.push({
          dataset,
          mode: variant.mode,
          prf: variant.prf,
          ndcg_at_10: outcome.metrics['ndcg@10'],
          recall_at_100: outcome.metrics['recall@100'],
          mrr_at_10: outcome.metrics['mrr@10'],
          p50_ms: outcome.latency.p50,
          prf_added_ms: variant.prf === 'off' ? 0 : Math.round((outcome.latency.p50 - baseline.get(variant.mode)!) * 10) / 10,
          ...(outcome.prf_original_share !== undefined && { kept_original: Math.round(outcome.prf_original_share * 1000) / 1000 }),
        })
      }
    }
    const out = await writeResult(resultPath('ablation', values.out), { model, split: values.split, prf_depth: depth, rows, machine: machineInfo(), date: new Date().toISOString() })
    const f = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : '-')
    const header = ['dataset', 'mode', 'PRF', 'nDCG@10', 'Recall@100', 'MRR@10', 'p50 ms', 'PRF adds ms', 'kept original']
    const cells = rows.map((r) => [String(r.dataset), String(r.mode), String(r.prf), f(r.ndcg_at_10), f(r.recall_at_100), f(r.mrr_at_10), String(r.p50_ms), String(r.prf_added_ms), String(r.kept_original ?? '-')])
    process.stdout.write(`model ${model}, split ${values.split}, PRF depth ${depth}\n\n${markdownTable(header, cells)}\n\nresult: ${out}\n`)
  } finally {
    await app.close()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ablation failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
