import { closeSync, openSync, ftruncateSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { sha256File } from '../../src/retrieval/hnsw-index.js'

// DenseIndex checksums its file on save and on load. It used to read the whole file with one
// readFile, which throws ERR_FS_FILE_TOO_LARGE past 2 GiB: a million 768-dim vectors (3.2 GB) could
// be built but never saved (found by bench:million, session 10).

t.test('a file past 2 GiB is checksummed (sparse, so it costs no disk)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'funnel-sha-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'big.hnsw')
  const fd = openSync(file, 'w')
  ftruncateSync(fd, 2 ** 31 + 2 ** 20) // 2 GiB + 1 MiB of zeros
  closeSync(fd)
  // The digest `sha256sum` prints for 2,148,532,224 zero bytes.
  t.equal(await sha256File(file), 'f9c8466cdac8f598a9dbbe999b62b47c2745c7b7368cd6bfcee1b636368a9071')
})

t.test('a small file hashes to the digest of its bytes', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'funnel-sha-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(path.join(dir, 'abc'), 'abc')
  t.equal(await sha256File(path.join(dir, 'abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})
