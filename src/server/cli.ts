import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createServer } from './app.ts';
import { openStore } from '../store/index.ts';
import { MessageAppender } from '../conversations/index.ts';
import { OrgError, addGroupMember, createDepartment, createGroup, findDepartment, findGroup, listDepartments, listGroups, setUserDepartment } from '../governance/org.ts';
import { AuditLog, LOCAL_OPERATOR, ROLES, UserError, countUsers, createUser, listAudit, verifyAuditChain, verifyMessageChains, type Role } from '../governance/index.ts';
import { seedDemo, writeCredentialsFile } from './demo.ts';
import { buildAll } from './build.ts';
import { importCommand } from '../archive/import/index.ts';
import { SearchError, hitJson, hitsTable, searchMessages, searchParamsSchema } from '../archive/index.ts';

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
  .action(async (o: { login: string; role: Role; name?: string; passwordStdin: boolean }) => {
    const cfg = config();
    const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    try {
      const password = o.passwordStdin ? await readStdin() : randomBytes(12).toString('base64url');
      const u = await createUser(store.db, { login: o.login, password, role: o.role, displayName: o.name });
      await new AuditLog(store.db, store.dialect).record({ actor: LOCAL_OPERATOR, action: 'user.create', target: { type: 'user', id: u.id }, detail: { login: u.login, role: u.role } });
      process.stdout.write(`created ${u.role} "${u.login}" (${u.id})\n`);
      if (!o.passwordStdin) process.stdout.write(`password: ${password}\n`);
    } catch (err) {
      if (err instanceof UserError) {
        process.stderr.write(`kefu: ${err.message}\n`);
        process.exitCode = 1;
      } else throw err;
    } finally {
      await store.close();
    }
  });

program
  .command('demo')
  .description('seed demo staff, customers and conversations; prints the generated passwords')
  .action(async () => {
    const cfg = config();
    const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    try {
      if ((await countUsers(store.db)) > 0) {
        process.stderr.write('kefu: this database already has users; demo data is only seeded into an empty database\n');
        process.exitCode = 1;
        return;
      }
      const creds = await seedDemo(store.db, new MessageAppender(store.db, store.dialect));
      const file = writeCredentialsFile(cfg.dataDir, creds);
      for (const c of creds) process.stdout.write(`${c.role}\t${c.login}\t${c.password}\n`);
      process.stdout.write(`saved in ${file}\n`);
    } finally {
      await store.close();
    }
  });

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
    const cfg = config();
    const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    try {
      const result = await searchMessages(store.db, store.dialect, parsed.data, 'all');
      const { cursor: _cursor, ...auditedQuery } = parsed.data;
      await new AuditLog(store.db, store.dialect).record({ actor: LOCAL_OPERATOR, action: 'search', query: auditedQuery, detail: { total: result.total, via: 'cli' } });
      if (o.json) for (const h of result.hits) process.stdout.write(JSON.stringify(hitJson(h)) + '\n');
      else process.stdout.write(hitsTable(result, process.stdout.isTTY === true));
    } catch (err) {
      if (err instanceof SearchError) {
        process.stderr.write(`kefu: ${err.message}\n`);
        process.exitCode = 2;
      } else throw err;
    } finally {
      await store.close();
    }
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
    const cfg = config();
    const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    try {
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
    } finally {
      await store.close();
    }
  });

program
  .command('verify')
  .description('recompute every message chain and the audit chain; exits 1 and names the first break when anything was altered')
  .action(async () => {
    const cfg = config();
    const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    try {
      const tty = process.stderr.isTTY === true;
      const messages = await verifyMessageChains(store.db, (n) => {
        if (tty) process.stderr.write(`\rverified ${n} conversations…`);
      });
      if (tty) process.stderr.write('\n');
      const audit = await verifyAuditChain(store.db);
      if (messages.broken) {
        process.stdout.write(`BROKEN conversation ${messages.broken.conversationId} seq ${messages.broken.seq}: ${messages.broken.reason}\n`);
      } else {
        process.stdout.write(`ok: ${messages.conversations} conversations, ${messages.messages} messages verified\n`);
      }
      if (audit.broken) process.stdout.write(`BROKEN audit event ${audit.broken.id}: ${audit.broken.reason}\n`);
      else process.stdout.write(`ok: ${audit.checked} audit events verified\n`);
      process.exitCode = messages.broken || audit.broken ? 1 : 0;
    } finally {
      await store.close();
    }
  });

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

/** Runs a command against the database, turning expected refusals into a message and exit code 1. */
async function withStore(fn: (store: Awaited<ReturnType<typeof openStore>>, audit: AuditLog) => Promise<void>) {
  const cfg = config();
  const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
  try {
    await fn(store, new AuditLog(store.db, store.dialect));
  } catch (err) {
    if (err instanceof OrgError || err instanceof UserError) {
      process.stderr.write(`kefu: ${err.message}\n`);
      process.exitCode = 1;
    } else throw err;
  } finally {
    await store.close();
  }
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
org
  .command('department')
  .description('add a department')
  .argument('<action>', 'add')
  .argument('<name>', 'department name, e.g. 客服部')
  .action((action: string, name: string) =>
    withStore(async (store, audit) => {
      if (action !== 'add') throw new OrgError('not_found', `unknown action "${action}" (use add)`);
      const d = await createDepartment(store.db, name);
      await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'department', id: d.id }, detail: { created: d.name } });
      process.stdout.write(`created department ${d.name} (${d.id})\n`);
    }),
  );
org
  .command('group')
  .description('add a group, or add a staff member to a group')
  .argument('<action>', 'add | join')
  .argument('<group>', 'group name (add) or name/id (join)')
  .option('--department <department>', 'the department the new group belongs to (name or id)')
  .option('--login <login>', 'with join: the staff login to add')
  .action((action: string, group: string, o: { department?: string; login?: string }) =>
    withStore(async (store, audit) => {
      if (action === 'add') {
        const dep = o.department ? await findDepartment(store.db, o.department) : undefined;
        if (o.department && !dep) throw new OrgError('not_found', `no department "${o.department}"`);
        const g = await createGroup(store.db, group, dep?.id ?? null);
        await audit.record({ actor: LOCAL_OPERATOR, action: 'config.change', target: { type: 'group', id: g.id }, detail: { created: g.name, departmentId: g.departmentId } });
        process.stdout.write(`created group ${g.name} (${g.id})\n`);
      } else if (action === 'join') {
        const g = await findGroup(store.db, group);
        if (!g) throw new OrgError('not_found', `no group "${group}"`);
        const u = o.login ? await store.db.selectFrom('app_user').select('id').where('login', '=', o.login).executeTakeFirst() : undefined;
        if (!u) throw new OrgError('not_found', `no staff login "${o.login ?? ''}" (use --login)`);
        await addGroupMember(store.db, g.id, u.id);
        await audit.record({ actor: LOCAL_OPERATOR, action: 'role.change', target: { type: 'user', id: u.id }, detail: { joinedGroup: g.id } });
        process.stdout.write(`${o.login} joined ${g.name}\n`);
      } else throw new OrgError('not_found', `unknown action "${action}" (use add or join)`);
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

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`kefu: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
