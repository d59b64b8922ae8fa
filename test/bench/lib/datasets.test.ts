import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { corpusDocuments, queryTexts } from '../../../bench/lib/datasets.js'

const tiny = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/beir-tiny')

t.test('corpusDocuments: ids and title + text as Funnel indexes them, in file order', async (t) => {
  t.same(await corpusDocuments(tiny), [
    { id: 'd1', text: 'Castles The king ruled the castle.' },
    { id: 'd2', text: 'Bees make honey in hives.' },
    { id: 'd3', text: 'Rivers' },
  ])
  t.same((await corpusDocuments(tiny, 2)).map((d) => d.id), ['d1', 'd2'], 'the first `limit`')
})

t.test('queryTexts: in queries.jsonl order', async (t) => {
  t.same(await queryTexts(tiny), ['who ruled the castle', 'where do bees live'])
  t.same(await queryTexts(tiny, 1), ['who ruled the castle'])
})
