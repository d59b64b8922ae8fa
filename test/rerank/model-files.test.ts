import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { findOnnxModel, modelMaxLength, readJsonIfPresent } from '../../src/rerank/model-files.js'
import { fixtureModelDir } from '../helpers/fixture-models.js'

t.test('both ONNX layouts are found', async (t) => {
  const nested = await fixtureModelDir('tiny-cross-encoder')
  t.equal(await findOnnxModel(nested), path.join(nested, 'onnx', 'model.onnx'))
  const flat = await fixtureModelDir('tiny-bert-cls')
  t.equal(await findOnnxModel(flat), path.join(flat, 'model.onnx'))
})

t.test('JSON side files: missing reads as {}, anything but an object is an error', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'funnel-model-files-'))
  t.teardown(() => rm(dir, { recursive: true }))
  t.same(await readJsonIfPresent(dir, 'config.json'), {})
  await writeFile(path.join(dir, 'config.json'), '[1, 2]')
  await t.rejects(readJsonIfPresent(dir, 'config.json'), /config\.json: expected a JSON object/)
  await t.rejects(readJsonIfPresent(dir, '.'), { code: 'EISDIR' }, 'other read errors propagate')
  await t.rejects(findOnnxModel(dir), /no ONNX model in .* \(looked for onnx\/model\.onnx, model\.onnx\)/)
})

t.test('max length: positions, less the RoBERTa offset, capped by a real tokenizer limit', async (t) => {
  t.equal(modelMaxLength({ max_position_embeddings: 512, model_type: 'bert' }, {}), 512)
  t.equal(modelMaxLength({ max_position_embeddings: 514, model_type: 'xlm-roberta', pad_token_id: 1 }, {}), 512)
  t.equal(modelMaxLength({ max_position_embeddings: 8192 }, { model_max_length: 2048 }), 2048)
  t.equal(modelMaxLength({ max_position_embeddings: 512 }, { model_max_length: 1e30 }), 512, 'the "no limit" sentinel is ignored')
  t.equal(modelMaxLength({}, { model_max_length: 256 }), 256)
  t.equal(modelMaxLength({}, {}), undefined)
})
