/**
 * `npm run cluster -- <command>`: a local 3-node Weaviate cluster for the weaviate backend.
 *
 *   install            go install weaviate-server into ~/.cache/funnel/weaviate-<version> unless present
 *   start              start 3 nodes on free loopback ports; the last line is FUNNEL_WEAVIATE_URLS=...
 *   stop               SIGTERM every node and wait for them to exit
 *   status             pid, liveness and readiness of each node, and the Raft leader
 *   kill-node N        SIGKILL node N (fault tests)
 *   restart-node N     start node N again on its ports and data, wait until the cluster is healthy
 *
 * Settings: FUNNEL_CLUSTER_DIR (state, data and logs; default $TMPDIR/funnel-weaviate-cluster),
 * FUNNEL_WEAVIATE_VERSION (default v1.35.2), FUNNEL_WEAVIATE_BIN_DIR, FUNNEL_WEAVIATE_BIN.
 */
import { defaultClusterDir, WeaviateCluster } from './weaviate-cluster.js'
import { installWeaviate, weaviateBinary } from './weaviate-install.js'

const USAGE = 'usage: npm run cluster -- install | start | stop | status | kill-node N | restart-node N'
const log = (line: string) => console.error(line)

function nodeIndex(arg: string | undefined): number {
  const index = Number(arg)
  if (arg === undefined || !Number.isInteger(index) || index < 0) throw new Error(`a node index is required (0, 1 or 2); got ${arg ?? 'nothing'}\n${USAGE}`)
  return index
}

async function main(argv: string[]): Promise<void> {
  const [command, arg] = argv
  const dir = defaultClusterDir()
  switch (command) {
    case 'install':
      await installWeaviate(weaviateBinary(), log)
      return
    case 'start': {
      const started = Date.now()
      const cluster = await WeaviateCluster.start({ dir, log })
      log(`3 nodes ready in ${((Date.now() - started) / 1000).toFixed(1)} s; state in ${cluster.stateFile}`)
      console.log(`FUNNEL_WEAVIATE_URLS=${cluster.urls}`)
      return
    }
    case 'stop':
      await WeaviateCluster.load(dir, { log }).stop()
      return
    case 'status': {
      const cluster = WeaviateCluster.load(dir, { log })
      for (const node of await cluster.status()) {
        console.log(`${node.name}  pid ${node.pid ?? '-'}  ${node.alive ? 'running' : 'stopped'}  ${node.ready ? 'ready' : 'not ready'}  ${node.http}`)
      }
      const live = (await cluster.status()).find((node) => node.ready)
      if (live !== undefined) console.log(`healthy as seen by ${live.name}: ${(await cluster.healthyNodes(live.index)).join(', ') || 'none'}`)
      const leader = await cluster.raftLeader()
      console.log(`raft leader: ${leader === undefined ? 'none' : `weaviate-${leader}`}`)
      console.log(`FUNNEL_WEAVIATE_URLS=${cluster.urls}`)
      return
    }
    case 'kill-node':
      await WeaviateCluster.load(dir, { log }).killNode(nodeIndex(arg))
      return
    case 'restart-node':
      await WeaviateCluster.load(dir, { log }).restartNode(nodeIndex(arg))
      return
    default:
      throw new Error(command === undefined ? USAGE : `unknown command '${command}'; ${USAGE}`)
  }
}

main(process.argv.slice(2)).catch((error: Error) => {
  console.error(error.message)
  process.exitCode = 1
})
