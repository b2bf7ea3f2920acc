import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createServer } from './app.ts';
import { openStore } from '../store/index.ts';
import { MessageAppender, storeLeftMessageLog } from '../conversations/index.ts';
import { OrgError, addGroupMember, createDepartment, createGroup, deleteDepartment, deleteGroup, findDepartment, findGroup, groupChangeDetail, listDepartments, listGroups, removeGroupMember, renameDepartment, setUserDepartment, updateGroup } from '../governance/org.ts';
import { AuditLog, LOCAL_OPERATOR, ROLES, UserError, countUsers, createUser, listAudit, recordCheckpoint, verifyIntegrity, type Role } from '../governance/index.ts';
import { ALWAYS_APPROVER, ALWAYS_TWO_FACTOR, PolicyError, grantApproverRoles, setGrantApproverRoles, resetTwoFactorOf, revokeSessionsOf, setAccountEnabled, setTwoFactorRequiredRoles, twoFactorRequiredRoles, unlockLogin } from '../governance/index.ts';
import { seedDemo, writeCredentialsFile } from './demo.ts';
import { buildAll } from './build.ts';
import { importCommand } from '../archive/import/index.ts';
import { SearchError, hitJson, hitsTable, searchMessages, searchParamsSchema } from '../archive/index.ts';
import { indexMissed } from '../archive/search-backlog.ts';
import { exportCommand } from '../archive/export/cli.ts';
import { GrantError, approveGrant, denyGrant, listGrants, revokeGrant, type Grant, type GrantDeps } from '../governance/grants.ts';
import { BackupError, RetentionError, addPolicy, createBackup, listHolds, listPolicies, manifestPath, placeHold, purgeExpired, releaseHold, removePolicy, restoreBackup, type BackupProgress, type BackupTarget } from '../governance/index.ts';

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kefu: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function serve(opts: { demoIfEmpty: boolean }) {
  const cfg = config();
  const server = await createServer(cfg);
  if (opts.demoIfEmpty && (await countUsers(server.store.db)) === 0) {
    const creds = await seedDemo(server.store.db, server.appender);
    const file = writeCredentialsFile(cfg.dataDir, creds);
    process.stdout.write(`\nSeeded demo data. Accounts (also saved in ${file}):\n`);
    for (const c of creds) process.stdout.write(`  ${c.role.padEnd(10)} login: ${c.login.padEnd(11)} password: ${c.password}\n`);
  }
  const port = await server.listen();
  process.stdout.write(`\nkefu is running (${server.store.dialect}).\n  console: http://localhost:${port}/\n  demo site with the chat widget: http://localhost:${port}/demo\n`);
  if (opts.demoIfEmpty) process.stdout.write(`  demo logins: see ${cfg.dataDir}/demo-credentials.txt\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'shutting down: refusing new connections, finishing writes');
    const timer = setTimeout(() => {
      server.log.error('shutdown timed out; exiting');
      process.exit(1);
    }, cfg.shutdownTimeoutMs);
    timer.unref();
    await server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

const program = new Command();
program.name('kefu').description('kefu 客服 — self-hosted customer-service platform').showHelpAfterError();

program
  .command('serve')
  .description('start the server (PORT, KEFU_DATA_DIR, KEFU_DATABASE_URL from the environment)')
  .option('--demo-if-empty', 'seed demo data when the database has no users', false)
  .action(serve);

program
  .command('start')
  .description('build the console if needed, seed demo data on a fresh database, and serve')
  .action(async () => {
    await buildAll({ onlyIfStale: true });
    await serve({ demoIfEmpty: true });
  });

program
  .command('build')
  .description('build the console (web/) and the widget (widget/) into dist/')
  .option('--if-stale', 'skip parts whose build is newer than their sources', false)
  .action(async (o: { ifStale: boolean }) => {
    await buildAll({ onlyIfStale: o.ifStale });
  });

const user = program.command('user').description('manage staff accounts');
user
  .command('add')
  .description('create a staff account; prints a generated password unless --password-stdin is given')
  .requiredOption('--login <login>', 'login name')
  .addOption(new Option('--role <role>', 'role').choices([...ROLES]).makeOptionMandatory())
  .option('--name <name>', 'display name')
  .option('--password-stdin', 'read the password from standard input', false)
  .action((o: { login: string; role: Role; name?: string; passwordStdin: boolean }) =>
    withStore(async (store, audit) => {
      const password = o.passwordStdin ? await readStdin() : randomBytes(12).toString('base64url');
      const u = await createUser(store.db, { login: o.login, password, role: o.role, displayName: o.name });
      await audit.record({ actor: LOCAL_OPERATOR, action: 'user.create', target: { type: 'user', id: u.id }, detail: { login: u.login, role: u.role } });
      process.stdout.write(`created ${u.role} "${u.login}" (${u.id})\n`);
      if (!o.passwordStdin) process.stdout.write(`password: ${password}\n`);
    }),
  );

// ---- account security (docs/SECURITY.md, "Authentication"): each audited as the local operator ----
user
  .command('2fa-reset')
  .description("remove a staff member's two-factor setup (lost phone) and end their sessions; they enrol again at the next sign-in")
  .requiredOption('--login <login>', 'staff login')
  .action((o: { login: string }) =>
    withStore(async (store, audit) => {
      const r = await resetTwoFactorOf(store.db, audit, LOCAL_OPERATOR, o.login);
      process.stdout.write(`${o.login}: ${r.hadTwoFactor ? 'two-factor removed' : 'had no two-factor set up'}, ${r.revokedSessions} session(s) ended\n`);
    }),
  );
for (const [name, enabled] of [['disable', false], ['enable', true]] as const) {
  user
    .command(name)
    .description(enabled ? 'allow a disabled account to sign in again (also lifts a sign-in lock-out)' : 'stop an account from signing in and end its sessions')
    .requiredOption('--login <login>', 'staff login')
    .action((o: { login: string }) =>
      withStore(async (store, audit) => {
        const r = await setAccountEnabled(store.db, audit, LOCAL_OPERATOR, o.login, enabled);
        process.stdout.write(enabled ? `${o.login} enabled\n` : `${o.login} disabled, ${r.revokedSessions} session(s) ended\n`);
      }),
    );
}
user
  .command('revoke-sessions')
  .description('end every session of a staff member (signs them out everywhere)')
  .requiredOption('--login <login>', 'staff login')
  .action((o: { login: string }) =>
    withStore(async (store, audit) => {
      const r = await revokeSessionsOf(store.db, audit, LOCAL_OPERATOR, o.login);
      process.stdout.write(`${o.login}: ${r.revokedSessions} session(s) ended\n`);
    }),
  );
user
  .command('unlock')
  .description('lift a lock-out after repeated failed sign-ins of a login before it runs out')
  .requiredOption('--login <login>', 'staff login')
  .action((o: { login: string }) =>
    withStore(async (store, audit) => {
      await unlockLogin(store.db, audit, LOCAL_OPERATOR, o.login);
      process.stdout.write(`${o.login} unlocked\n`);
    }),
  );

const settings = program.command('settings').description('settings kept in the database (the same on every node)');
/** The settings the CLI reads and writes: each names its stored key (the audit target) and its rule. */
const SETTINGS = {
  '2fa-roles': { key: 'twoFactorRequiredRoles', get: twoFactorRequiredRoles, set: setTwoFactorRequiredRoles },
  'grant-approver-roles': { key: 'grantApproverRoles', get: grantApproverRoles, set: setGrantApproverRoles },
} as const;
const settingNamed = (name: string) => {
  if (!Object.hasOwn(SETTINGS, name)) throw new PolicyError(`unknown setting "${name}" (known: ${Object.keys(SETTINGS).join(', ')})`);
  return SETTINGS[name as keyof typeof SETTINGS];
};
settings
  .command('get')
  .description('print a setting: 2fa-roles (the roles that must sign in with two-factor authentication), grant-approver-roles (the roles that approve or deny access requests)')
  .argument('<name>', '2fa-roles | grant-approver-roles')
  .action((name: string) =>
    withStore(async (store) => {
      process.stdout.write(`${(await settingNamed(name).get(store.db)).join(',')}\n`);
    }),
  );
settings
  .command('set')
  .description(`change a setting: 2fa-roles ROLE,ROLE… (must include ${ALWAYS_TWO_FACTOR.join(' and ')}); grant-approver-roles ROLE,ROLE… (must include ${ALWAYS_APPROVER.join(', ')})`)
  .argument('<name>', '2fa-roles | grant-approver-roles')
  .argument('<value>', 'e.g. supervisor,auditor,admin')
  .action((name: string, value: string) =>
    withStore(async (store, audit) => {
      const setting = settingNamed(name);
      const change = await setting.set(store.db, value.split(',').map((r) => r.trim()).filter(Boolean));
      await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'setting', id: setting.key }, detail: change });
      process.stdout.write(`${name}: ${change.to.join(',')}\n`);
    }),
  );

program
  .command('demo')
  .description('seed demo staff, customers and conversations; prints the generated passwords')
  .action(() =>
    withStore(async (store, _audit, cfg) => {
      if ((await countUsers(store.db)) > 0) {
        process.stderr.write('kefu: this database already has users; demo data is only seeded into an empty database\n');
        process.exitCode = 1;
        return;
      }
      const creds = await seedDemo(store.db, new MessageAppender(store.db, store.dialect));
      const file = writeCredentialsFile(cfg.dataDir, creds);
      for (const c of creds) process.stdout.write(`${c.role}\t${c.login}\t${c.password}\n`);
      process.stdout.write(`saved in ${file}\n`);
    }),
  );

program
  .command('search')
  .description('search the chat archive (Chinese simplified/traditional, English, numbers); words are ANDed')
  .argument('<query...>', 'the words to find')
  .option('--from <iso>', 'only messages at or after this time (ISO 8601)')
  .option('--to <iso>', 'only messages before this time (ISO 8601)')
  .option('--customer <id>', 'customer id or external id')
  .option('--agent <login>', 'conversations assigned to this staff login')
  .option('--channel <channel>', 'channel, e.g. web, email, import')
  .option('--group <group>', 'group id')
  .option('--tag <tag>', 'conversation tag')
  .option('--sort <order>', 'time (newest first) or relevance', 'time')
  .option('--limit <n>', 'how many hits (1-200)', '20')
  .option('--json', 'one JSON object per line per hit', false)
  .action(async (query: string[], o: Record<string, string | boolean | undefined>) => {
    const parsed = searchParamsSchema.safeParse({
      q: query.join(' '),
      from: o.from,
      to: o.to,
      customer: o.customer,
      agent: o.agent,
      channel: o.channel,
      group: o.group,
      tag: o.tag,
      sort: o.sort,
      limit: o.limit,
    });
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      process.stderr.write(`kefu: --${String(i.path[0] ?? 'query')}: ${i.message}\n`);
      process.exit(2);
    }
    await withStore(async (store, audit) => {
      // the operator at the server waits for the whole answer: every match is tested against the filters
      const result = await searchMessages(store.db, store.dialect, parsed.data, 'all', { matchWorkLimit: Infinity }).catch((err: unknown) => {
        if (!(err instanceof SearchError)) throw err;
        process.stderr.write(`kefu: ${err.message}\n`);
        process.exitCode = 2;
        return undefined;
      });
      if (!result) return;
      const { cursor: _cursor, ...auditedQuery } = parsed.data;
      await audit.record({ actor: LOCAL_OPERATOR, action: 'search', query: auditedQuery, detail: { total: result.total, via: 'cli' } });
      if (o.json) for (const h of result.hits) process.stdout.write(JSON.stringify(hitJson(h)) + '\n');
      else process.stdout.write(hitsTable(result, process.stdout.isTTY === true));
    });
  });

program
  .command('audit')
  .description('print the audit trail, newest first')
  .option('--from <iso>', 'events at or after this time')
  .option('--to <iso>', 'events before this time')
  .option('--actor <login>', 'only this actor')
  .option('--action <action>', 'only this action (login, login_failed, logout, view, search, export, unmask, user.create, grant.*)')
  .option('--limit <n>', 'how many events', '100')
  .option('--json', 'one JSON object per line', false)
  .action(async (o: { from?: string; to?: string; actor?: string; action?: string; limit: string; json: boolean }) => {
    const time = (name: string, v?: string) => {
      if (v === undefined) return undefined;
      const t = Date.parse(v);
      if (Number.isNaN(t)) {
        process.stderr.write(`kefu: --${name}: must be an ISO 8601 date or time\n`);
        process.exit(2);
      }
      return t;
    };
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10000) {
      process.stderr.write('kefu: --limit: must be a whole number from 1 to 10000\n');
      process.exit(2);
    }
    await withStore(async (store) => {
      const events = await listAudit(store.db, { from: time('from', o.from), to: time('to', o.to), actor: o.actor, action: o.action, limit });
      for (const e of events) {
        if (o.json) process.stdout.write(JSON.stringify(e) + '\n');
        else {
          const target = e.target ? ` ${e.target.type}:${e.target.id}` : '';
          const query = e.query ? ` ${JSON.stringify(e.query)}` : '';
          process.stdout.write(`${e.at}  ${e.actor.login.padEnd(16)} ${e.action.padEnd(13)}${target}${query}${e.ip ? `  from ${e.ip}` : ''}\n`);
        }
      }
      if (!o.json && events.length === 0) process.stdout.write('no audit events match\n');
    });
  });

program
  .command('verify')
  .description('recompute every message chain and the audit chain; exits 1 and names the first break when anything was altered')
  .action(() =>
    withStore(async (store) => {
      const tty = process.stderr.isTTY === true;
      const r = await verifyIntegrity(store.db, (n) => {
        if (tty) process.stderr.write(`\rverified ${n} conversations…`);
      });
      if (tty) process.stderr.write('\n');
      const report = [
        r.lines.messages ?? `ok: ${r.messages.conversations} conversations, ${r.messages.messages} messages verified`,
        r.lines.audit ?? `ok: ${r.audit.checked} audit events verified`,
        r.lines.checkpoints ?? `ok: ${r.checkpoints.checked} checkpoints verified`,
        r.lines.purges ?? `ok: ${r.purges.messages} purged messages match ${r.purges.runs} audited retention purges`,
      ];
      for (const line of report) process.stdout.write(`${line}\n`);
      process.exitCode = r.broken.length > 0 ? 1 : 0;
    }),
  );

program
  .command('import')
  .description('import conversations from a JSON Lines or CSV file (docs/IMPORT.md); exit code 0 all imported, 1 some records skipped, 2 failed')
  .argument('<file>', 'a .jsonl or .csv file')
  .addOption(new Option('--format <format>', 'file format (default: from the file name)').choices(['jsonl', 'csv']))
  .option('--dry-run', 'read and validate the file, write nothing', false)
  .option('--json', 'print the summary as JSON', false)
  .action(async (file: string, o: { format?: 'jsonl' | 'csv'; dryRun: boolean; json: boolean }) => {
    const cfg = config();
    process.exitCode = await importCommand({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir }, file, o);
  });

program
  .command('export')
  .description('export chat messages — those a search with these filters finds — to CSV or XLSX, PII masked (docs/EXPORT.md)')
  .requiredOption('--out <file>', 'the file to write (written as FILE.part, renamed when complete)')
  .option('--format <format>', 'csv or xlsx (default: from the --out file name)')
  .option('--query <q>', 'only messages with all these words, as `kefu search`')
  .option('--from <iso>', 'only messages at or after this time (ISO 8601)')
  .option('--to <iso>', 'only messages before this time (ISO 8601)')
  .option('--customer <id>', 'customer id or external id')
  .option('--agent <login>', 'conversations assigned to this staff login')
  .option('--channel <channel>', 'channel, e.g. web, email, import')
  .option('--tag <tag>', 'conversation tag')
  .option('--group <group>', 'group id')
  .option('--conversation <id>', 'one conversation (id or external id)')
  .option('--tz <zone>', "IANA time zone of the time column (default: the server's zone)")
  .option('--force', 'overwrite --out if it exists', false)
  // a bad or missing option is a usage error: exit status 2, like the option checks inside the command
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .action((o) => exportCommand(o, config));

/**
 * Runs a command, turning the errors it expects (a refusal with a reason for the operator) into that message on
 * standard error and exit code 1 (3 for a grant that does not exist); anything else is a bug and propagates.
 */
async function refusing(fn: () => Promise<void>) {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof OrgError || err instanceof UserError || err instanceof GrantError || err instanceof BackupError || err instanceof RetentionError)) throw err;
    process.stderr.write(`kefu: ${err.message}\n`);
    process.exitCode = err instanceof GrantError && err.code === 'not_found' ? 3 : 1;
  }
}

/** Runs a command against the database (closed afterwards), with refusals as refusing() reports them. */
function withStore(fn: (store: Awaited<ReturnType<typeof openStore>>, audit: AuditLog, cfg: Config) => Promise<void>) {
  return refusing(async () => {
    const cfg = config();
    const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    try {
      // with no server on the database, acknowledged messages a stopped server left in its log are stored first
      await storeLeftMessageLog(store, cfg.dataDir);
      await fn(store, new AuditLog(store.db, store.dialect), cfg);
    } finally {
      await store.close();
    }
  });
}

const org = program.command('org').description('departments and groups (售前/售后/技术/VIP…)');
org
  .command('list')
  .description('list departments, groups and their members')
  .action(() =>
    withStore(async (store) => {
      const departments = await listDepartments(store.db);
      const groups = await listGroups(store.db);
      const users = await store.db.selectFrom('app_user').select(['id', 'login', 'role', 'department_id']).execute();
      const members = await store.db.selectFrom('group_member').selectAll().execute();
      for (const d of departments) {
        process.stdout.write(`${d.name} (${d.id})\n`);
        for (const u of users.filter((x) => x.department_id === d.id)) process.stdout.write(`  · ${u.login} [${u.role}]\n`);
        for (const g of groups.filter((x) => x.departmentId === d.id)) {
          const logins = members.filter((m) => m.group_id === g.id).map((m) => users.find((u) => u.id === m.user_id)?.login);
          process.stdout.write(`  ${g.name} (${g.id}): ${logins.join(', ') || '—'}\n`);
        }
      }
      for (const g of groups.filter((x) => x.departmentId === null)) process.stdout.write(`${g.name} (${g.id}, no department)\n`);
      if (departments.length === 0 && groups.length === 0) process.stdout.write('no departments or groups yet: kefu org department add NAME\n');
    }),
  );
/** the --to of a rename, required */
const newName = (to: string | undefined) => {
  const name = to?.trim();
  if (!name) throw new OrgError('not_found', 'rename needs the new name: --to NAME');
  return name;
};
org
  .command('department')
  .description('add, rename or remove a department (one that still has groups or people is not removed)')
  .argument('<action>', 'add | rename | remove')
  .argument('<department>', 'department name (add) or name/id (rename, remove), e.g. 客服部')
  .option('--to <name>', 'with rename: the new name')
  .action((action: string, name: string, o: { to?: string }) =>
    withStore(async (store, audit) => {
      if (action === 'add') {
        const d = await createDepartment(store.db, name);
        await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'department', id: d.id }, detail: { created: d.name } });
        process.stdout.write(`created department ${d.name} (${d.id})\n`);
        return;
      }
      if (action !== 'rename' && action !== 'remove') throw new OrgError('not_found', `unknown action "${action}" (use add, rename or remove)`);
      const d = await findDepartment(store.db, name);
      if (!d) throw new OrgError('not_found', `no department "${name}"`);
      if (action === 'rename') {
        const { before, after } = await renameDepartment(store.db, d.id, newName(o.to));
        if (before.name !== after.name) await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'department', id: d.id }, detail: { renamed: { from: before.name, to: after.name } } });
        process.stdout.write(`department ${before.name} is now ${after.name}\n`);
      } else {
        await deleteDepartment(store.db, d.id);
        await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'department', id: d.id }, detail: { deleted: d.name } });
        process.stdout.write(`removed department ${d.name}\n`);
      }
    }),
  );
org
  .command('group')
  .description('add, rename, move or remove a group (one named by conversations or retention rules is not removed), or add a staff member to a group or take them out of it')
  .argument('<action>', 'add | join | leave | rename | move | remove')
  .argument('<group>', 'group name (add) or name/id (the others)')
  .option('--department <department>', 'with add or move: the department the group belongs to (name or id; "none" with move)')
  .option('--login <login>', 'with join or leave: the staff login')
  .option('--to <name>', 'with rename: the new name')
  .action((action: string, group: string, o: { department?: string; login?: string; to?: string }) =>
    withStore(async (store, audit) => {
      if (action === 'add') {
        const dep = o.department ? await findDepartment(store.db, o.department) : undefined;
        if (o.department && !dep) throw new OrgError('not_found', `no department "${o.department}"`);
        const g = await createGroup(store.db, group, dep?.id ?? null);
        await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'group', id: g.id }, detail: { created: g.name, departmentId: g.departmentId } });
        process.stdout.write(`created group ${g.name} (${g.id})\n`);
        return;
      }
      if (!['join', 'leave', 'rename', 'move', 'remove'].includes(action)) throw new OrgError('not_found', `unknown action "${action}" (use add, join, leave, rename, move or remove)`);
      // every action but add names an existing group
      const g = await findGroup(store.db, group);
      if (!g) throw new OrgError('not_found', `no group "${group}"`);
      if (action === 'join' || action === 'leave') {
        const u = o.login ? await store.db.selectFrom('app_user').select('id').where('login', '=', o.login).executeTakeFirst() : undefined;
        if (!u) throw new OrgError('not_found', `no staff login "${o.login ?? ''}" (use --login)`);
        if (action === 'join') await addGroupMember(store.db, g.id, u.id);
        else if (!(await removeGroupMember(store.db, g.id, u.id))) throw new OrgError('not_found', `${o.login} is not a member of ${g.name}`);
        await audit.record({ actor: LOCAL_OPERATOR, action: 'role.change', target: { type: 'user', id: u.id }, detail: action === 'join' ? { joinedGroup: g.id } : { leftGroup: g.id } });
        process.stdout.write(`${o.login} ${action === 'join' ? 'joined' : 'left'} ${g.name}\n`);
      } else if (action === 'rename' || action === 'move') {
        let change: { name?: string; departmentId?: string | null };
        if (action === 'rename') change = { name: newName(o.to) };
        else {
          if (!o.department) throw new OrgError('not_found', 'move needs the department: --department NAME|none');
          const dep = o.department === 'none' ? null : await findDepartment(store.db, o.department);
          if (dep === undefined) throw new OrgError('not_found', `no department "${o.department}"`);
          change = { departmentId: dep?.id ?? null };
        }
        const { before, after } = await updateGroup(store.db, g.id, change);
        const detail = groupChangeDetail(before, after);
        if (detail) await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'group', id: g.id }, detail });
        const depName = after.departmentId ? ((await findDepartment(store.db, after.departmentId))?.name ?? after.departmentId) : 'no department';
        process.stdout.write(`group ${after.name} (${g.id}), ${depName}\n`);
      } else {
        const { memberIds } = await deleteGroup(store.db, g.id);
        await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'group', id: g.id }, detail: { deleted: g.name, members: memberIds } });
        process.stdout.write(`removed group ${g.name}${memberIds.length > 0 ? ` and its ${memberIds.length} membership${memberIds.length === 1 ? '' : 's'}` : ''}\n`);
      }
    }),
  );
org
  .command('assign')
  .description("set a staff member's department")
  .requiredOption('--login <login>', 'staff login')
  .requiredOption('--department <department>', 'department name or id, or "none"')
  .action((o: { login: string; department: string }) =>
    withStore(async (store, audit) => {
      const u = await store.db.selectFrom('app_user').select('id').where('login', '=', o.login).executeTakeFirst();
      if (!u) throw new OrgError('not_found', `no staff login "${o.login}"`);
      const dep = o.department === 'none' ? null : await findDepartment(store.db, o.department);
      if (dep === undefined) throw new OrgError('not_found', `no department "${o.department}"`);
      await setUserDepartment(store.db, u.id, dep?.id ?? null);
      await audit.record({ actor: LOCAL_OPERATOR, action: 'role.change', target: { type: 'user', id: u.id }, detail: { departmentId: dep?.id ?? null } });
      process.stdout.write(`${o.login} → ${dep?.name ?? 'no department'}\n`);
    }),
  );

program
  .command('checkpoint')
  .description('pin the current heads of all message chains and of the audit chain; prints the Merkle root to keep outside kefu')
  .action(() =>
    withStore(async (store, audit) => {
      const c = await recordCheckpoint(store, audit, LOCAL_OPERATOR);
      process.stdout.write(`checkpoint ${c.id} at ${c.at}: ${c.conversations} conversation heads pinned\nmerkle root: ${c.merkleRoot}\ncheckpoint hash: ${c.hash}\n`);
    }),
  );

// ---- access grants (申请-审批): the local operator lists requests and decides, audited as local-operator ----
{
  const grantCommand = (fn: (deps: GrantDeps) => Promise<void>) => withStore((store, audit) => fn({ db: store.db, dialect: store.dialect, audit }));
  const scopeText = (g: Grant) =>
    g.scope.kind === 'customer' ? `customer ${g.scope.customerId}`
    : g.scope.kind === 'conversations' ? `conversations ${g.scope.conversationIds.join(',')}`
    : `query ${JSON.stringify(g.scope.query)}`;
  const line = (g: Grant) =>
    `${g.id}  ${g.state.padEnd(9)} ${g.requester.login.padEnd(16)} ${String(g.durationHours).padStart(4)}h  ${g.expiresAt ? `until ${g.expiresAt}  ` : ''}${scopeText(g)}  — ${g.reason}\n`;

  const grant = program.command('grant').description('access requests (申请-审批): list them, approve or deny as the local operator');
  grant
    .command('list')
    .description('access requests, newest first')
    .option('--pending', 'only requests awaiting a decision', false)
    .option('--json', 'one JSON object per line', false)
    .action((o: { pending: boolean; json: boolean }) =>
      grantCommand(async ({ db }) => {
        const grants = await listGrants(db, { pending: o.pending, limit: 1000 });
        for (const g of grants) process.stdout.write(o.json ? JSON.stringify(g) + '\n' : line(g));
        if (!o.json && grants.length === 0) process.stdout.write(o.pending ? 'no pending access requests\n' : 'no access requests\n');
      }),
    );
  grant
    .command('approve')
    .description('approve a pending request: access starts now and lasts the requested duration')
    .argument('<id>', 'grant id')
    .option('--note <note>', 'a note for the requester')
    .action((id: string, o: { note?: string }) =>
      grantCommand(async (deps) => {
        const g = await approveGrant(deps, id, LOCAL_OPERATOR, { note: o.note });
        process.stdout.write(`approved ${g.id} for ${g.requester.login}: ${g.conversations} conversations until ${g.expiresAt}\n`);
      }),
    );
  grant
    .command('deny')
    .description('deny a pending request')
    .argument('<id>', 'grant id')
    .requiredOption('--note <note>', 'why, for the requester')
    .action((id: string, o: { note: string }) =>
      grantCommand(async (deps) => {
        const g = await denyGrant(deps, id, LOCAL_OPERATOR, o.note);
        process.stdout.write(`denied ${g.id} of ${g.requester.login}\n`);
      }),
    );
  grant
    .command('revoke')
    .description('end a valid grant now, or withdraw a pending request')
    .argument('<id>', 'grant id')
    .option('--note <note>', 'why')
    .action((id: string, o: { note?: string }) =>
      grantCommand(async (deps) => {
        const g = await revokeGrant(deps, id, LOCAL_OPERATOR, { note: o.note });
        process.stdout.write(`revoked ${g.id} of ${g.requester.login}\n`);
      }),
    );
}

// ---- backup, restore, retention and legal holds (docs/OPERATIONS.md); the CLI acts as local-operator ----
{
  const target = (cfg: Config): BackupTarget => ({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, pgBinDir: cfg.pgBinDir });
  /** a percentage on standard error when it is a terminal; nothing otherwise */
  const progress = (label: string) => {
    const tty = process.stderr.isTTY === true;
    let shown = '';
    return {
      update: (p: BackupProgress) => {
        const text = `${label} ${Math.floor(p.fraction * 100)}%${p.note ? ` (${p.note})` : ''}`;
        if (tty && text !== shown) process.stderr.write(`\r${text}\x1b[K`);
        shown = text;
      },
      end: () => {
        if (tty && shown) process.stderr.write('\n');
      },
    };
  };
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

  program
    .command('backup')
    .description('write a consistent backup of the running database to FILE and its manifest to FILE.json (SQLite online backup; pg_dump for PostgreSQL)')
    .argument('<file>', 'the backup file to create')
    .action((file: string) =>
      withStore(async (_store, audit, cfg) => {
        const bar = progress('backing up');
        const m = await createBackup(target(cfg), file, { onProgress: bar.update });
        bar.end();
        await audit.record({
          actor: LOCAL_OPERATOR,
          action: 'backup.create',
          target: { type: 'backup', id: m.file },
          detail: { file: path.resolve(file), size: m.size, sha256: m.sha256, dialect: m.dialect, schemaVersion: m.schemaVersion, counts: m.counts, scheduled: false },
        });
        process.stdout.write(`backup written: ${path.resolve(file)} (${mb(m.size)}; ${m.counts.conversations} conversations, ${m.counts.messages} messages, ${m.counts.auditEvents} audit events)\n`);
        process.stdout.write(`manifest: ${manifestPath(path.resolve(file))}\nsha256: ${m.sha256}\n`);
      }),
    );

  program
    .command('restore')
    .description('replace the database with a backup (offline: stop kefu first), then verify every chain; exits 1 if the restored data does not verify')
    .argument('<file>', 'a backup made by kefu backup (its FILE.json manifest must be next to it)')
    .option('--force', 'restore even though a kefu server seems to be running on this database', false)
    .action((file: string, o: { force: boolean }) =>
      refusing(async () => {
        const cfg = config();
        const bar = progress('restoring');
        const r = await restoreBackup(target(cfg), file, { force: o.force, onProgress: bar.update });
        bar.end();
        process.stdout.write(`restored the backup taken ${r.manifest.createdAt} (schema ${r.manifest.schemaVersion ?? 'unknown'}, ${r.manifest.counts.messages} messages)\n`);
        if (r.movedAside) process.stdout.write(`the database it replaced was moved to ${r.movedAside}\n`);
        await withStore(async (store, log) => {
          // a backup of a running server may hold its last half second of messages not yet in the search index
          if (store.dialect === 'sqlite') {
            const indexed = await indexMissed(store.db);
            if (indexed > 0) process.stdout.write(`indexed ${indexed} messages the backup held without search-index entries\n`);
          }
          const { messages, audit, checkpoints, broken } = await verifyIntegrity(store.db);
          if (broken.length === 0) {
            process.stdout.write(`verified: ${messages.conversations} conversations, ${messages.messages} messages (${messages.purged} purged by retention), ${audit.checked} audit events, ${checkpoints.checked} checkpoints\n`);
          } else for (const b of broken) process.stdout.write(`${b}\n`);
          await log.record({
            actor: LOCAL_OPERATOR,
            action: 'backup.restore',
            target: { type: 'backup', id: r.manifest.file },
            detail: { file: path.resolve(file), sha256: r.manifest.sha256, takenAt: r.manifest.createdAt, schemaVersion: r.manifest.schemaVersion, movedAside: r.movedAside ?? null, forced: o.force, verified: broken.length === 0 },
          });
          process.exitCode = broken.length === 0 ? 0 : 1;
        });
      }),
    );

  const day = (t: number | null) => (t === null ? '' : new Date(t).toISOString());

  const retention = program.command('retention').description('retention policies (keep N days, by channel/group/tag) and the purge that empties expired conversations');
  retention
    .command('add')
    .description('add a policy: the content of resolved or closed conversations it covers is purged N days after their last activity')
    .requiredOption('--name <name>', 'a name for the policy')
    .requiredOption('--days <n>', 'keep this many days')
    .option('--channel <channel>', 'only conversations of this channel (web, email, import…)')
    .option('--group <group>', 'only conversations of this group (name or id)')
    .option('--tag <tag>', 'only conversations with this tag')
    .action((o: { name: string; days: string; channel?: string; group?: string; tag?: string }) =>
      withStore(async (store) => {
        const p = await addPolicy(store, { name: o.name, keepDays: Number(o.days), channel: o.channel, group: o.group, tag: o.tag }, LOCAL_OPERATOR);
        process.stdout.write(`added retention policy "${p.name}" (${p.id}): keep ${p.keepDays} days\n`);
      }),
    );
  retention
    .command('list')
    .description('list the retention policies')
    .option('--json', 'one JSON object per line', false)
    .action((o: { json: boolean }) =>
      withStore(async (store) => {
        const policies = await listPolicies(store.db);
        for (const p of policies) {
          const filters = [p.channel && `channel=${p.channel}`, p.groupId && `group=${p.groupId}`, p.tag && `tag=${p.tag}`].filter(Boolean).join(' ') || 'all conversations';
          process.stdout.write(o.json ? JSON.stringify(p) + '\n' : `${p.id}  ${p.name.padEnd(20)} keep ${String(p.keepDays).padStart(5)} days  ${filters}\n`);
        }
        if (!o.json && policies.length === 0) process.stdout.write('no retention policies: nothing is ever purged\n');
      }),
    );
  retention
    .command('remove')
    .description('remove a policy')
    .argument('<policy>', 'policy name or id')
    .action((policy: string) =>
      withStore(async (store) => {
        const p = await removePolicy(store, policy, LOCAL_OPERATOR);
        process.stdout.write(`removed retention policy "${p.name}"\n`);
      }),
    );
  retention
    .command('purge')
    .description('empty the content of expired conversations now (hashes and tombstones stay; legal holds are honoured; audited)')
    .option('--dry-run', 'only count what would be purged', false)
    .option('--json', 'print the report as JSON', false)
    .action((o: { dryRun: boolean; json: boolean }) =>
      withStore(async (store) => {
        const r = await purgeExpired(store, { actor: LOCAL_OPERATOR, dryRun: o.dryRun });
        if (o.json) {
          process.stdout.write(JSON.stringify(r) + '\n');
          return;
        }
        const verb = r.dryRun ? 'would purge' : 'purged';
        process.stdout.write(`${verb} ${r.messages} messages in ${r.conversations} conversations; ${r.held} expired conversations kept under legal hold\n`);
        for (const p of r.byPolicy) process.stdout.write(`  ${p.name} (keep ${p.keepDays} days): ${p.conversations} conversations, ${p.messages} messages\n`);
      }),
    );

  const hold = program.command('hold').description('legal holds: a held customer or conversation is never purged');
  hold
    .command('place')
    .description('place a legal hold on a customer (all their conversations) or on one conversation')
    .option('--customer <id>', 'customer id or external id')
    .option('--conversation <id>', 'conversation id or external id')
    .requiredOption('--reason <reason>', 'why, e.g. a case number')
    .action((o: { customer?: string; conversation?: string; reason: string }) =>
      withStore(async (store) => {
        if (Boolean(o.customer) === Boolean(o.conversation)) throw new RetentionError('invalid', 'give exactly one of --customer and --conversation');
        const h = await placeHold(store, { targetType: o.customer ? 'customer' : 'conversation', target: (o.customer ?? o.conversation)!, reason: o.reason }, LOCAL_OPERATOR);
        process.stdout.write(`legal hold ${h.id} placed on ${h.targetType} ${h.targetId}\n`);
      }),
    );
  hold
    .command('release')
    .description('release a legal hold')
    .argument('<id>', 'hold id')
    .action((id: string) =>
      withStore(async (store) => {
        const h = await releaseHold(store, id, LOCAL_OPERATOR);
        process.stdout.write(`legal hold ${h.id} on ${h.targetType} ${h.targetId} released\n`);
      }),
    );
  hold
    .command('list')
    .description('list legal holds in force')
    .option('--all', 'also released ones', false)
    .option('--json', 'one JSON object per line', false)
    .action((o: { all: boolean; json: boolean }) =>
      withStore(async (store) => {
        const holds = await listHolds(store.db, { includeReleased: o.all });
        for (const h of holds) {
          process.stdout.write(o.json ? JSON.stringify(h) + '\n' : `${h.id}  ${h.targetType.padEnd(12)} ${h.targetId}  since ${day(h.placedAt)} by ${h.placedBy}${h.releasedAt ? `, released ${day(h.releasedAt)} by ${h.releasedBy}` : ''}  — ${h.reason}\n`);
        }
        if (!o.json && holds.length === 0) process.stdout.write('no legal holds\n');
      }),
    );
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`kefu: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
