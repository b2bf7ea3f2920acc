export { exportMessages, exportFiltersSchema, timeZoneSchema, ExportError, EXPORT_FORMATS, type ExportFormat, type ExportOptions, type ExportResult } from './export.ts';
export { countExportRows, type ExportFilters } from './rows.ts';
export { EXPORT_COLUMNS, MAX_DATA_ROWS_PER_SHEET, isoFormatter, serverTimeZone } from './columns.ts';
export { csvField } from './csv.ts';
export { ExportJobs, type ExportJob, type ExportJobState } from './jobs.ts';
export { registerExportRoutes, presentJob } from './http.ts';
