import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { HUGE_PAGE_TUNABLE, glibcVersion, hugePageStatus, thpMode, tunableAsksForHugePages } from '../../src/retrieval/huge-pages.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

t.test('the THP mode is the bracketed word of the kernel file', async (t) => {
  t.equal(thpMode('always [madvise] never\n'), 'madvise')
  t.equal(thpMode('[always] madvise never\n'), 'always')
  t.equal(thpMode('always madvise [never]\n'), 'never')
  t.equal(thpMode(''), 'unknown')
  t.equal(thpMode('always madvise never'), 'unknown', 'no bracket, no mode')
})

t.test('GLIBC_TUNABLES: the last glibc.malloc.hugetlb among colon-separated pairs decides', async (t) => {
  t.equal(tunableAsksForHugePages(undefined), false)
  t.equal(tunableAsksForHugePages(''), false)
  t.equal(tunableAsksForHugePages(HUGE_PAGE_TUNABLE), true)
  t.equal(tunableAsksForHugePages('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'), true)
  t.equal(tunableAsksForHugePages('glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0'), false, 'a later pair overrides')
  t.equal(tunableAsksForHugePages('glibc.malloc.hugetlb=2'), true, '2 = hugetlbfs pages, also huge')
  t.equal(tunableAsksForHugePages('glibc.malloc.hugetlb=0'), false)
  t.equal(tunableAsksForHugePages('glibc.malloc.hugetlbx=1'), false, 'the name must match exactly')
})

t.test('the start-up status says whether index memory gets huge pages, and what to change', async (t) => {
  const on = hugePageStatus({ thp: 'madvise', tunables: HUGE_PAGE_TUNABLE, platform: 'linux', glibc: '2.36' })
  t.equal(on.enabled, true)
  const missing = hugePageStatus({ thp: 'madvise', tunables: undefined, platform: 'linux', glibc: '2.36' })
  t.equal(missing.enabled, false)
  t.match(missing.reason, HUGE_PAGE_TUNABLE, 'names the setting to add')
  t.equal(hugePageStatus({ thp: 'madvise', tunables: HUGE_PAGE_TUNABLE, platform: 'linux', glibc: '2.31' }).enabled, false, 'glibc before 2.35 ignores the tunable')
  t.match(hugePageStatus({ thp: 'madvise', tunables: HUGE_PAGE_TUNABLE, platform: 'linux', glibc: undefined }).reason, /not glibc/)
  t.equal(hugePageStatus({ thp: 'always', tunables: undefined, platform: 'linux', glibc: '2.36' }).enabled, true)
  t.equal(hugePageStatus({ thp: 'never', tunables: HUGE_PAGE_TUNABLE, platform: 'linux', glibc: '2.36' }).enabled, false)
  t.equal(hugePageStatus({ thp: 'madvise', tunables: HUGE_PAGE_TUNABLE, platform: 'darwin', glibc: undefined }).enabled, false)
})

t.test('npm start and the Docker image start the server with the tunable', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.match(pkg.scripts.start, `GLIBC_TUNABLES=\${GLIBC_TUNABLES:-${HUGE_PAGE_TUNABLE}}`, 'npm start keeps a user value, else sets it')
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM ')).replace(/\\\n\s*/g, ' ')
  t.match(runtime, new RegExp(`^ENV .*GLIBC_TUNABLES=${HUGE_PAGE_TUNABLE.replace(/\./g, '\\.')}`, 'm'), 'the runtime stage sets it')
})

const hostStatus = hugePageStatus({ thp: thpMode(), tunables: HUGE_PAGE_TUNABLE, platform: process.platform, glibc: glibcVersion() })
const hostSkip = !hostStatus.enabled || !existsSync('/proc/self/smaps_rollup') ? `this host cannot give huge pages: ${hostStatus.reason}` : false
if (hostSkip) console.log(`# skipping the huge-page test: ${hostSkip}`)

t.test('with the tunable, a real hnswlib index lands on huge pages', { skip: hostSkip }, async (t) => {
  const child = path.join(repoRoot, 'test/fixtures/huge-pages/index-huge-pages.ts')
  const run = async (tunables: string | undefined) => {
    const env = { ...process.env }
    if (tunables === undefined) delete env.GLIBC_TUNABLES
    else env.GLIBC_TUNABLES = tunables
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child], { cwd: repoRoot, env, timeout: 120_000 })
    return JSON.parse(stdout) as { size: number; anonHugePagesMiB: number }
  }
  const withTunable = await run(HUGE_PAGE_TUNABLE)
  t.equal(withTunable.size, 20_000)
  t.ok(withTunable.anonHugePagesMiB >= 2, `at least one 2 MiB page (got ${withTunable.anonHugePagesMiB} MiB)`)
  if (hostStatus.thp === 'madvise') {
    const without = await run(undefined)
    t.ok(withTunable.anonHugePagesMiB > without.anonHugePagesMiB, `more huge pages with the tunable (${withTunable.anonHugePagesMiB} MiB) than without (${without.anonHugePagesMiB} MiB)`)
  }
})
