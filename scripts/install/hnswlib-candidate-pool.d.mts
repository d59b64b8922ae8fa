/** hnswalg.h with the candidate pool; throws when a piece of the source it edits is not found exactly once. */
export function patchHnswalg(source: string): string
/** addon.cc with `setCandidatePool(on)` on HierarchicalNSW; throws as patchHnswalg does. */
export function patchAddon(source: string): string
