export { normalize, normalizeWithOffsets, originalRange, type NormalizedText } from './normalize.ts';
export {
  DIGIT_WINDOW,
  LETTER_LIMIT,
  indexText,
  indexTokens,
  matchTokens,
  queryTokens,
  toFts5Match,
  toTsQuery,
  type PhraseTerm,
  type QueryTerm,
  type QueryTokens,
} from './tokenizer.ts';
export { searchMessages, filteredMessages, engineQueryFor, searchParamsSchema, SearchError, EXACT_COUNT_LIMIT, MATCH_WORK_LIMIT, MAX_QUERY_LENGTH, type SearchParams, type SearchScope, type SearchHit, type SearchResult } from './search.ts';
export { makeSnippet, findHits, type Snippet } from './snippet.ts';
export { registerArchiveRoutes } from './http.ts';
export { hitJson, hitsTable } from './cli-output.ts';
export { exportMessages, exportFiltersSchema, countExportRows, registerExportRoutes, ExportError, EXPORT_FORMATS, type ExportFormat, type ExportFilters, type ExportResult } from './export/index.ts';
