import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_initial.ts';
import * as m002 from './002_search.ts';
import * as m003 from './003_audit_integrity.ts';
import * as m004 from './004_org.ts';

/** Migrations are listed in code (not read from a folder) so they work the same from source, tests and bundles. */
export const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_search': m002,
  '003_audit_integrity': m003,
  '004_org': m004,
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
