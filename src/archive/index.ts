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
