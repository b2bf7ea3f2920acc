import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_initial.ts';
import * as m002 from './002_search.ts';
import * as m003 from './003_audit_integrity.ts';
import * as m004 from './004_org.ts';
import * as m005 from './005_auth.ts';
import * as m007 from './007_retention.ts';
import * as m008 from './008_checkpoints.ts';
import * as m006 from './006_grants.ts';
import * as m009 from './009_search_key.ts';
import * as m010 from './010_grant_unmask.ts';
import * as m011 from './011_message_indexes.ts';
import * as m012 from './012_search_key_in_index.ts';
import * as m013 from './013_hot_path_indexes.ts';
import * as m014 from './014_search_index_watermark.ts';
import * as m015 from './015_search_index_without_prefix.ts';

/** Migrations are listed in code (not read from a folder) so they work the same from source, tests and bundles. */
export const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_search': m002,
  '003_audit_integrity': m003,
  '004_org': m004,
  '005_auth': m005,
  '006_grants': m006,
  '007_retention': m007,
  '008_checkpoints': m008,
  '009_search_key': m009,
  '010_grant_unmask': m010,
  '011_message_indexes': m011,
  '012_search_key_in_index': m012,
  '013_hot_path_indexes': m013,
  '014_search_index_watermark': m014,
  '015_search_index_without_prefix': m015,
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
