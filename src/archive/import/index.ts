export { importFile, formatOf, BAD_LINES_KEPT, DEFAULT_BATCH_SIZE, type ImportCounts, type ImportFormat, type ImportOptions, type ImportProgress, type ImportSummary } from './importer.ts';
export { ImportError, TURN_GAP_MS, DEFAULT_CHANNEL, type BadLine } from './record.ts';
export { CSV_COLUMNS } from './parse-csv.ts';
export { importCommand } from './command.ts';
