import weaviate, { type ConsistencyLevel, type WeaviateClient } from 'weaviate-client'
import type { CollectionRecord } from '../backend.js'
import { catalogClassName, collectionRecordUuid } from './weaviate-names.js'
import type { NodePool } from './weaviate-nodes.js'

export interface MetaClassOptions {
  replicationFactor: number
}

export interface CatalogOptions extends MetaClassOptions {
  /** How long a record change waits to be visible on every node (`NodePool.awaitOnEveryNode`). */
  visibilityWaitMs: number
  catchUpMs: number
}

/**
 * Creates a class Funnel keeps its own records in (the collection catalog, the calibrators), if it is
 * missing. Concurrent replicas may race to create it: Weaviate serialises schema changes through Raft
 * and the loser gets "already exists", which counts as done.
 */
export async function ensureMetaClass(
  client: WeaviateClient,
  name: string,
  properties: { name: string; dataType: 'text' | 'int'; filterable: boolean }[],
  options: MetaClassOptions,
): Promise<void> {
  if (await client.collections.exists(name)) return
  try {
    await client.collections.create({
      name,
      properties: properties.map((p) => ({
        name: p.name,
        dataType: p.dataType,
        indexFilterable: p.filterable,
        indexSearchable: false,
        ...(p.dataType === 'text' && { tokenization: 'field' as const }),
      })),
      replication: weaviate.configure.replication({ factor: options.replicationFactor, asyncEnabled: true, deletionStrategy: 'TimeBasedResolution' }),
    })
  } catch (error) {
    if (!/already exists/i.test(String(error))) throw error
  }
}

/**
 * Waits until every node in the rotation can read class `name`: schema changes reach each node
 * through Raft a moment apart, and a call on a node that has not applied one yet fails.
 */
export async function awaitClassOnEveryNode(nodes: NodePool, name: string, options: { visibilityWaitMs: number; catchUpMs: number }): Promise<void> {
  await nodes.awaitOnEveryNode(
    async (client) => (await client.collections.use(name).withConsistency('ONE').query.fetchObjects({ limit: 1 }), 1),
    1,
    options.visibilityWaitMs,
    options.catchUpMs,
  )
}

/**
 * The collection records (spec, settings, creation time) in a Weaviate class of their own, one
 * object per collection at a UUID derived from its name, so every replica reads the same catalog.
 */
export class CollectionCatalog {
  readonly className: string
  private ensured: Promise<void> | undefined

  constructor(
    private readonly nodes: NodePool,
    prefix: string,
    private readonly consistency: ConsistencyLevel,
    private readonly options: CatalogOptions,
  ) {
    this.className = catalogClassName(prefix)
  }

  private ensure(): Promise<void> {
    this.ensured ??= this.nodes
      .run((client) =>
        ensureMetaClass(
          client,
          this.className,
          [
            { name: 'name', dataType: 'text', filterable: true },
            { name: 'record', dataType: 'text', filterable: false },
          ],
          this.options,
        ),
      )
      .then(() => awaitClassOnEveryNode(this.nodes, this.className, this.options))
      .catch((error) => {
        this.ensured = undefined
        throw error
      })
    return this.ensured
  }

  private use(client: WeaviateClient) {
    return client.collections.use(this.className).withConsistency(this.consistency)
  }

  async get(name: string): Promise<CollectionRecord | undefined> {
    await this.ensure()
    const object = await this.nodes.run((client) => this.use(client).query.fetchObjectById(collectionRecordUuid(name), { returnProperties: ['name', 'record'] }))
    if (object === null || object.properties.name !== name) return undefined
    return JSON.parse(object.properties.record as string) as CollectionRecord
  }

  async list(): Promise<CollectionRecord[]> {
    await this.ensure()
    const records: CollectionRecord[] = []
    await this.nodes.run(async (client) => {
      records.length = 0
      for await (const object of this.use(client).iterator({ returnProperties: ['record'] })) {
        records.push(JSON.parse(object.properties.record as string) as CollectionRecord)
      }
    })
    return records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** Waits until every node in the rotation reads the record of `name` as present (1) or absent (0). */
  private async awaitOnEveryNode(name: string, expected: 0 | 1): Promise<void> {
    await this.nodes.awaitOnEveryNode(
      async (client) => ((await client.collections.use(this.className).withConsistency('ONE').query.fetchObjectById(collectionRecordUuid(name))) === null ? 0 : 1),
      expected,
      this.options.visibilityWaitMs,
      this.options.catchUpMs,
    )
  }

  /**
   * Stores `record` unless one exists. Returns the record that is stored: `record` itself, or the
   * existing one (the caller's own earlier attempt when its `created_at` is equal, else a conflict).
   */
  async insert(record: CollectionRecord): Promise<CollectionRecord> {
    await this.ensure()
    return this.nodes.run(async (client) => {
      try {
        await this.use(client).data.insert({ id: collectionRecordUuid(record.name), properties: { name: record.name, record: JSON.stringify(record) } })
        return record
      } catch (error) {
        if (!/already exists/i.test(String(error))) throw error
        return (await this.get(record.name)) ?? record
      }
    }).then(async (stored) => {
      await this.awaitOnEveryNode(record.name, 1)
      return stored
    })
  }

  /** Deletes a record; false when there was none. */
  async remove(name: string): Promise<boolean> {
    if ((await this.get(name)) === undefined) return false
    await this.nodes.run((client) => this.use(client).data.deleteById(collectionRecordUuid(name)))
    await this.awaitOnEveryNode(name, 0)
    return true
  }
}
