import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.ts';

test('defaults give the embedded mode on port 3000', () => {
  const c = loadConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.databaseUrl, undefined);
  assert.match(c.dataDir, /data$/);
  assert.equal(c.searchMatchLimit, 20_000);
});

test('a bad value names the variable and what it must be', () => {
  assert.throws(() => loadConfig({ PORT: 'eighty' }), (e: Error) => e instanceof ConfigError && /PORT/.test(e.message));
  assert.throws(() => loadConfig({ KEFU_DATABASE_URL: 'mysql://x' }), /KEFU_DATABASE_URL: must be a postgres/);
  assert.throws(() => loadConfig({ KEFU_LOG_LEVEL: 'loud' }), /KEFU_LOG_LEVEL/);
  assert.throws(() => loadConfig({ KEFU_SEARCH_MATCH_LIMIT: '5' }), /KEFU_SEARCH_MATCH_LIMIT/);
  assert.throws(() => loadConfig({ KEFU_SEARCH_MATCH_LIMIT: 'many' }), /KEFU_SEARCH_MATCH_LIMIT/);
});
