import { Filters, type ConsistencyLevel, type WeaviateClient } from 'weaviate-client'
import { storedCalibrator, type CalibratorRepository, type CalibratorRow } from '../../calibration/calibrator-repository.js'
import type { NewCalibrator, StoredCalibrator } from '../../calibration/calibrator-store.js'
import { awaitClassOnEveryNode, ensureMetaClass, type CatalogOptions } from './collection-catalog.js'
import { calibratorClassName, calibratorUuid } from './weaviate-names.js'
import type { NodePool } from './weaviate-nodes.js'

type Stage = StoredCalibrator['stage']

/** Versions read per (model, stage): a refit a day for 27 years. */
const MAX_VERSIONS = 10_000

/** A calibrator object's properties: the stored row itself. */
type CalibratorProperties = CalibratorRow

/**
 * Calibrators in the cluster (class `<prefix>Meta_Calibrators`), one object per (model, stage,
 * version) at a UUID derived from those three, so every Funnel replica applies the same ones.
 *
 * The active calibrator of a (model, stage) is its highest version: `save` only ever adds versions
 * and activates them, so no flag needs to be kept in step. Weaviate has no transactions, so `save`
 * inserts one version after another and, if one fails, deletes those it already added ("all or none"
 * holds unless Funnel dies mid-save). A version is claimed by inserting its UUID (an insert of an
 * existing id fails), so two replicas saving at once get distinct versions.
 */
export class WeaviateCalibratorRepository implements CalibratorRepository {
  readonly className: string
  private ensured: Promise<void> | undefined

  constructor(
    private readonly nodes: NodePool,
    prefix: string,
    private readonly consistency: ConsistencyLevel,
    private readonly options: CatalogOptions,
  ) {
    this.className = calibratorClassName(prefix)
  }

  private ensure(): Promise<void> {
    this.ensured ??= this.nodes
      .run((client) =>
        ensureMetaClass(
          client,
          this.className,
          [
            { name: 'model', dataType: 'text', filterable: true },
            { name: 'stage', dataType: 'text', filterable: true },
            { name: 'version', dataType: 'int', filterable: true },
            { name: 'calibrator', dataType: 'text', filterable: false },
            { name: 'metrics', dataType: 'text', filterable: false },
            { name: 'created_at', dataType: 'text', filterable: false },
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

  /** Every stored version, or those of one (model, stage), as plain properties. */
  private async all(of?: { model: string; stage: Stage }): Promise<CalibratorProperties[]> {
    await this.ensure()
    return this.nodes.run(async (client) => {
      const collection = this.use(client)
      if (of !== undefined) {
        const filters = Filters.and(collection.filter.byProperty('model').equal(of.model), collection.filter.byProperty('stage').equal(of.stage))
        const { objects } = await collection.query.fetchObjects({ filters, limit: MAX_VERSIONS })
        return objects.map((object) => object.properties as unknown as CalibratorProperties)
      }
      const found: CalibratorProperties[] = []
      for await (const object of collection.iterator()) found.push(object.properties as unknown as CalibratorProperties)
      return found
    })
  }

  async save(calibrators: readonly NewCalibrator[]): Promise<StoredCalibrator[]> {
    await this.ensure()
    const created_at = new Date().toISOString()
    const saved: StoredCalibrator[] = []
    try {
      for (const { model, stage, calibrator, metrics } of calibrators) {
        const versions = (await this.all({ model, stage })).map((c) => c.version)
        let version = Math.max(0, ...versions, ...saved.filter((s) => s.model === model && s.stage === stage).map((s) => s.version)) + 1
        for (;;) {
          const properties: CalibratorProperties = { model, stage, version, calibrator: JSON.stringify(calibrator), metrics: JSON.stringify(metrics), created_at }
          const inserted = await this.nodes.run(async (client) => {
            try {
              await this.use(client).data.insert({ id: calibratorUuid(model, stage, version), properties: { ...properties } })
              return true
            } catch (error) {
              if (/already exists/i.test(String(error))) return false
              throw error
            }
          })
          if (inserted) break
          version++
        }
        saved.push({ model, stage, version, calibrator, metrics, created_at, active: true })
      }
      // Every replica of Funnel must apply the new calibrators from its next request on.
      await this.nodes.awaitOnEveryNode(
        async (client) => {
          const collection = client.collections.use(this.className).withConsistency('ONE')
          const { objects } = await collection.query.fetchObjects({
            filters: collection.filter.byId().containsAny(saved.map((s) => calibratorUuid(s.model, s.stage, s.version))),
            limit: saved.length,
          })
          return objects.length
        },
        saved.length,
        this.options.visibilityWaitMs,
        this.options.catchUpMs,
      )
      return saved
    } catch (error) {
      await Promise.allSettled(saved.map((s) => this.nodes.run((client) => this.use(client).data.deleteById(calibratorUuid(s.model, s.stage, s.version)))))
      throw error
    }
  }

  async active(model: string, stage: Stage): Promise<StoredCalibrator | undefined> {
    return (await this.history(model, stage))[0]
  }

  async list(): Promise<StoredCalibrator[]> {
    const latest = new Map<string, CalibratorProperties>()
    for (const c of await this.all()) {
      const key = JSON.stringify([c.model, c.stage])
      if ((latest.get(key)?.version ?? 0) < c.version) latest.set(key, c)
    }
    return [...latest.values()].sort((a, b) => compare(a.stage, b.stage) || compare(a.model, b.model)).map((c) => toStored(c, true))
  }

  async history(model: string, stage: Stage): Promise<StoredCalibrator[]> {
    const versions = (await this.all({ model, stage })).sort((a, b) => b.version - a.version)
    return versions.map((c, i) => toStored(c, i === 0))
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const toStored = (c: CalibratorProperties, active: boolean): StoredCalibrator => storedCalibrator(c, active)
