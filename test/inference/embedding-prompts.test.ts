import t from 'tap'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { EmbeddingModel, readPrompts } from '../../src/inference/embedding-model.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

/** A copy of the tiny fixture embedder whose config_sentence_transformers.json declares prompts (as EmbeddingGemma's does). */
async function folderWithPrompts(prompts: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-prompts-'))
  await cp(await fixtureModelDir('tiny-bert-mean'), dir, { recursive: true })
  await writeFile(path.join(dir, 'config_sentence_transformers.json'), JSON.stringify({ prompts }))
  return dir
}

t.test("a folder's sentence-transformers prompts are applied when the manifest gives no prefixes", async (t) => {
  const dir = await folderWithPrompts({ query: 'task: search result | query: ', document: 'title: none | text: ', STS: 'task: sentence similarity | query: ' })
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  t.same(await readPrompts(dir), { query: 'task: search result | query: ', document: 'title: none | text: ' })
  const plain = await EmbeddingModel.load(await fixtureModelDir('tiny-bert-mean'), { id: 'plain' })
  const prompted = await EmbeddingModel.load(dir, { id: 'prompted' })
  const overridden = await EmbeddingModel.load(dir, { id: 'manifest', prefixes: { query: 'query: ', document: '' } })
  t.teardown(async () => {
    await plain.dispose()
    await prompted.dispose()
    await overridden.dispose()
  })
  const same = (a: Float32Array, b: Float32Array) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!))) < 1e-6
  const [q] = (await prompted.embed(['solar power'], 'query')).vectors
  const [qWant] = (await plain.embed(['task: search result | query: solar power'])).vectors
  t.ok(same(q!, qWant!), 'query prompt prepended')
  const [d] = (await prompted.embed(['solar power'], 'document')).vectors
  const [dWant] = (await plain.embed(['title: none | text: solar power'])).vectors
  t.ok(same(d!, dWant!), 'document prompt prepended')
  const [m] = (await overridden.embed(['solar power'], 'query')).vectors
  const [mWant] = (await plain.embed(['query: solar power'])).vectors
  t.ok(same(m!, mWant!), "the manifest's prefixes win over the folder's prompts")
})

t.test('no prompts, or prompts without query/document, give no prefixes', async (t) => {
  const empty = await folderWithPrompts({})
  const other = await folderWithPrompts({ STS: 'x: ' })
  t.teardown(async () => {
    await rm(empty, { recursive: true, force: true })
    await rm(other, { recursive: true, force: true })
  })
  t.equal(await readPrompts(empty), undefined)
  t.equal(await readPrompts(other), undefined)
  t.equal(await readPrompts(await fixtureModelDir('tiny-bert-mean')), undefined, 'no config_sentence_transformers.json')
})
