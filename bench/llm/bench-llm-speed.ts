/**
 * One listwise window on the same model through three paths, interleaved round by round so that
 * load from other processes hits all of them alike (medians reported):
 *   llama.cpp window  - LlamaCppListwiseBackend.identifierScores on a cleared sequence (prompt head not reused)
 *   llama.cpp floor   - node-llama-cpp evaluateWithoutGeneratingNewTokens of the same token ids (prefill only)
 *   ONNX window       - OnnxCausalLmBackend.identifierScores on the ONNX export's own prompt (same text)
 * plus the llama.cpp window as the sliding-window driver runs it (second window of a query, head reused).
 *
 *   tsx bench/llm/bench-llm-speed.ts --gguf models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF \
 *     --onnx models/HuggingFaceTB/SmolLM2-135M-Instruct [--passages 20] [--rounds 3] [--threads 1]
 */
import path from 'node:path'
import { TextTokenizer } from '../../src/inference/tokenizer.js'
import { OnnxCausalLmBackend } from '../../src/rerank/listwise/onnx-causal-lm.js'
import { ListwisePromptBuilder } from '../../src/rerank/listwise/prompt.js'
import { GgufModel } from '../../src/rerank/llm/gguf-model.js'
import { LlamaCppListwiseBackend } from '../../src/rerank/llm/llama-cpp-listwise-backend.js'
import { parseFlags } from '../lib/args.js'
import { sharedDataset } from '../lib/paths.js'
import { median } from '../lib/stats.js'
import { loadRerankData } from './rerank-data.js'

const flags = parseFlags(process.argv.slice(2))
const ggufPath = flags.get('gguf') ?? 'models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF'
const onnxDir = flags.get('onnx')
const passagesPerWindow = Number(flags.get('passages') ?? 20)
const rounds = Number(flags.get('rounds') ?? 3)
const threads = Number(flags.get('threads') ?? 1)
const dataset = flags.get('dataset') ?? sharedDataset('trec-dl19')

const { queries } = await loadRerankData(dataset, path.join(dataset, 'bm25-top100.run'), passagesPerWindow + 10)
const query = queries[0]!
const front = query.candidates.slice(0, passagesPerWindow).map((c) => c.text)
const back = query.candidates.slice(10, 10 + passagesPerWindow).map((c) => c.text)

const lm = await GgufModel.load(ggufPath, { threads })
const backend = await LlamaCppListwiseBackend.create(lm, { contextSize: 4096 })
const builder = new ListwisePromptBuilder(lm.tokenizer, lm.chatTemplate, { contextLength: backend.contextSize })
const prompt = builder.build(query.text, front)
const backPrompt = builder.build(query.text, back)
const floorContext = await lm.createContext({ contextSize: 4096, sequences: 1 })
const floorSequence = floorContext.getSequence()

let onnx: { backend: OnnxCausalLmBackend; prompt: ReturnType<ListwisePromptBuilder['build']> } | undefined
if (onnxDir !== undefined) {
  const onnxPrompts = await ListwisePromptBuilder.fromDirectory(onnxDir, { contextLength: 4096 })
  const onnxBackend = await OnnxCausalLmBackend.load({ modelDir: onnxDir, tokenizer: await TextTokenizer.fromDirectory(onnxDir), intraOpThreads: threads })
  onnx = { backend: onnxBackend, prompt: onnxPrompts.build(query.text, front) }
}
console.log(`query ${query.id}, ${passagesPerWindow} passages: llama.cpp prompt ${prompt.ids.length} tokens` + (onnx ? `, ONNX prompt ${onnx.prompt.ids.length} tokens` : '') + `; threads ${threads}`)

const time = async (f: () => Promise<unknown>) => {
  const began = performance.now()
  await f()
  return performance.now() - began
}
const ms: Record<string, number[]> = { window: [], floor: [], reused: [], onnx: [] }
let sameTop = true
for (let round = 0; round <= rounds; round++) {
  const warmup = round === 0
  await backend.identifierScores(builder.build('unrelated warm-up query', ['x', 'y'])) // clears the head
  const window = await time(() => backend.identifierScores(prompt))
  const reused = await time(async () => {
    await backend.identifierScores(backPrompt)
  })
  // `reused`: the back window runs after the front one of the same query, so the prompt head is cached.
  await floorSequence.clearHistory()
  const floor = await time(() => floorSequence.evaluateWithoutGeneratingNewTokens(prompt.ids as never))
  const onnxMs = onnx ? await time(() => onnx!.backend.identifierScores(onnx!.prompt)) : Number.NaN
  if (onnx && warmup) {
    const a = await backend.identifierScores(prompt)
    const b = await onnx.backend.identifierScores(onnx.prompt)
    sameTop = a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))
  }
  console.log(`${warmup ? 'warm-up' : `round ${round}`}: window ${Math.round(window)} ms, floor ${Math.round(floor)} ms, head reused ${Math.round(reused)} ms, ONNX ${Math.round(onnxMs)} ms`)
  if (warmup) continue
  ms.window!.push(window)
  ms.floor!.push(floor)
  ms.reused!.push(reused)
  ms.onnx!.push(onnxMs)
}
const m = (k: string) => median(ms[k]!)
console.log(`\nmedian of ${rounds} rounds (${prompt.ids.length}-token window, ${path.basename(lm.path)}, ${threads} thread(s))`)
console.log(`| path | ms per window | vs floor |\n| --- | --- | --- |`)
console.log(`| llama.cpp prefill floor (evaluateWithoutGeneratingNewTokens) | ${Math.round(m('floor'))} | 1.00x |`)
console.log(`| llama.cpp listwise window (Funnel) | ${Math.round(m('window'))} | ${(m('window') / m('floor')).toFixed(2)}x |`)
console.log(`| llama.cpp listwise window, prompt head reused (2nd window of a query) | ${Math.round(m('reused'))} | ${(m('reused') / m('floor')).toFixed(2)}x |`)
if (onnx) {
  console.log(`| ONNX causal-LM window (Funnel, onnxruntime) | ${Math.round(m('onnx'))} | ${(m('onnx') / m('floor')).toFixed(2)}x |`)
  console.log(`ONNX / llama.cpp window: ${(m('onnx') / m('window')).toFixed(2)}x; same first identifier on both paths: ${sameTop}`)
}
await floorContext.dispose()
await backend.dispose()
await onnx?.backend.dispose()
