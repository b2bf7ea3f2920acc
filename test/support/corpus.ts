import fs from 'node:fs';
import path from 'node:path';

/** The real Weibo customer-service dialogues described in ../shared/data/README.md (not part of this repository). */
export const CORPUS_DIR = path.resolve(import.meta.dirname, '../../../shared/data');

export interface CorpusTurn {
  role: 'customer' | 'agent';
  text: string;
}

export interface CorpusConversation {
  id: string;
  turns: CorpusTurn[];
}

const FILES = { zh: 'stc3_dch_zh.jsonl', en: 'stc3_dch_en.jsonl' } as const;

/**
 * The conversations of one language file, or undefined when the data folder is absent: then a note goes to stderr so
 * the skip is visible, and under CI=true absence is an error instead.
 */
export function loadCorpus(language: keyof typeof FILES): CorpusConversation[] | undefined {
  const file = path.join(CORPUS_DIR, FILES[language]);
  if (!fs.existsSync(file)) {
    const message = `corpus ${file} not found`;
    if (process.env.CI === 'true') throw new Error(message);
    process.stderr.write(`note: ${message}; corpus tests skipped\n`);
    return undefined;
  }
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CorpusConversation);
}
