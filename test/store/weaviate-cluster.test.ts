import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ephemeralPortFloor, freePortPairs, WeaviateCluster } from '../../scripts/cluster/weaviate-cluster.js'
import { weaviateSkipReason } from './weaviate-cluster-fixture.js'

// The local cluster's start: ports that outgoing connections cannot take in the meantime, and a
// retry on other ports when a node still finds one of its ports taken (two test files starting
// clusters at once once collided that way).
const skip = weaviateSkipReason()
if (skip !== false) console.log(`# skipping the Weaviate port-clash start test: ${skip}`)
t.setTimeout(600_000)

t.test('free port pairs are consecutive, distinct and below the ephemeral range', async (t) => {
  const floor = ephemeralPortFloor()
  t.ok(floor > 10_002, `ephemeral range starts at ${floor}`)
  const pairs = await freePortPairs(9)
  t.equal(pairs.length, 9)
  const ports = pairs.flat()
  t.equal(new Set(ports).size, 18, 'all 18 ports distinct')
  for (const [a, b] of pairs) {
    t.equal(b, a + 1, `${a} and ${b} are a pair`)
    t.ok(a >= 10_000 && b < floor, `${a}-${b} lies in [10000, ${floor})`)
  }
})

t.test('a port taken before it is bound: skipped when picking, not handed out', async (t) => {
  // A fixed sequence of draws whose first lands on a port held here: the picker must move on.
  const held = net.createServer()
  const heldPort = await new Promise<number>((resolve) => {
    const tryPort = (port: number) => {
      held.once('error', () => tryPort(port + 2))
      held.listen(port, '127.0.0.1', () => resolve(port))
    }
    tryPort(20_000)
  })
  t.teardown(() => new Promise<void>((resolve) => held.close(() => resolve())))
  const span = ephemeralPortFloor() - 2 - 10_000
  const draws = [(heldPort - 10_000) / span, (heldPort - 10_000 - 1) / span, 0.5, 0.25]
  let next = 0
  const pairs = await freePortPairs(1, () => draws[next++ % draws.length]! + 1e-9)
  t.equal(pairs.length, 1)
  t.notOk(pairs[0]!.includes(heldPort), `the held port ${heldPort} is not handed out (got ${pairs[0]!.join('-')})`)
})

t.test('a node that finds its gRPC port taken: the cluster starts again on other ports', { skip }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'funnel-weaviate-clash-'))
  const blockers: net.Server[] = []
  const lines: string[] = []
  let takenPort = 0
  const cluster = await WeaviateCluster.start({
    dir,
    ownedByThisProcess: true,
    readyTimeoutMs: 240_000,
    log: (line) => lines.push(line),
    onPortsPicked: async (nodes, attempt) => {
      if (attempt !== 1) return
      // What another cluster starting at the same moment would do: bind node 0's gRPC port first.
      takenPort = nodes[0]!.ports.grpc
      const blocker = net.createServer()
      await new Promise<void>((resolve) => blocker.listen(takenPort, '127.0.0.1', () => resolve()))
      blockers.push(blocker)
    },
  })
  t.teardown(async () => {
    await cluster.stop()
    await Promise.all(blockers.map((b) => new Promise((resolve) => b.close(resolve))))
    rmSync(dir, { recursive: true, force: true })
  })
  t.ok(takenPort > 0, 'the first attempt had its port taken')
  t.notOk(cluster.state.nodes.some((node) => Object.values(node.ports).includes(takenPort)), 'the running cluster uses other ports')
  t.ok(lines.some((line) => /starting again on other ports \(attempt 2 of 3\)/.test(line)), 'the retry is logged')
  const status = await cluster.status()
  t.same(status.map((node) => node.ready), [true, true, true], 'all three nodes ready')
  const firstLog = readdirSync(dir).find((name) => name === 'node-0.attempt-1.log')
  t.ok(firstLog, "the failed attempt's log is kept")
  t.match(readFileSync(path.join(dir, firstLog!), 'utf8'), /address already in use/, 'and says why node 0 died')
})
