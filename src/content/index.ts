/**
 * Content: UnixFS import (chunk + DAG under an IPIP-499 profile) and export (files, directory
 * trees, byte ranges). It reads and writes blocks through the store and knows nothing of the network.
 */
export { importContent } from './import.js'
export type { ImportEntry, ImportResult, ImportOptions, ImportProgressEvent } from './import.js'
export { fsSource } from './fs-source.js'
export { cat, exportTree, list, statPath } from './export.js'
export type { ExportEntry, ListEntry, CatOptions } from './export.js'
export { parseContentPath } from './path.js'
export type { ContentPath } from './path.js'
export { exportCar, importCar, carHeader, carSection } from './car.js'
export type { DagScope, ExportCarOptions, ImportCarOptions, CarImportStats, CarBlocks, CarSink } from './car.js'
