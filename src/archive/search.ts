import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import type { Database, DialectName, MessageType, SenderKind } from '../store/index.ts';
import { catchUpSearchIndex, countInIndex, keyAfterNewest, matchingMessages, relevanceScore, searchKeyColumn, type KeyRange } from '../store/dialect/search.ts';
import { KEY_SLOTS_PER_MS, keyRange, readDrift } from '../store/search-keys.ts';
import { queryTokens, toFts5Match, toTsQuery } from './tokenizer.ts';
import { conversationScope, unmaskScope, type Viewer } from '../governance/policies/conversations.ts';
import { makeSnippet, type Snippet } from './snippet.ts';
import { maskPii } from '../governance/masking.ts';

export const MAX_QUERY_LENGTH = 200;
/** counts are exact up to this many hits; beyond it the total is reported as an estimate ("10,000+") */
export const EXACT_COUNT_LIMIT = 10_000;
/**
 * A search whose matches must each be tested against a viewer's scope or a conversation filter tests at most the newest
 * this many matches per request, for the count and for the page alike. An agent's share of a common word at 10M
 * messages is a fraction of a percent: testing all 363,000 matches of 流量 took seconds, and a word with no hit in a
 * narrow scope (a new agent's 您好) would test every match. When the matches run on, the total is a lower bound
 * ("2,000+"), and a page that stops there short of full says how far back it looked (`searchedBackTo`) and carries a
 * cursor that goes on below it, so paging still reaches every hit. The operator's CLI, which waits for the whole
 * answer, passes Infinity.
 */
export const MATCH_WORK_LIMIT = 20_000;

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date or time, e.g. 2026-11-01 or 2026-11-01T08:00:00+08:00');

/** The search parameters as they come from HTTP or the CLI (strings), validated. */
export const searchParamsSchema = z
  .object({
    q: z.string().max(MAX_QUERY_LENGTH, `the query may have at most ${MAX_QUERY_LENGTH} characters`).default(''),
    from: isoTime.optional(),
    to: isoTime.optional(),
    customer: z.string().min(1).max(100).optional(),
    agent: z.string().min(1).max(64).optional(),
    group: z.string().min(1).max(100).optional(),
    channel: z.string().min(1).max(50).optional(),
    tag: z.string().min(1).max(100).optional(),
    conversation: z.string().min(1).max(100).optional(),
    sort: z.enum(['time', 'relevance']).default('time'),
    cursor: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(20),
  })
  .strict();

export type SearchParams = z.infer<typeof searchParamsSchema>;

export interface SearchHit {
  conversationId: string;
  externalId: string | null;
  customerId: string;
  customerName: string;
  channel: string;
  messageId: string;
  seq: number;
  sender: { kind: SenderKind; id: string | null };
  type: MessageType;
  createdAt: string;
  body: string;
  snippet: string;
  highlights: Snippet['highlights'];
}

export interface SearchResult {
  hits: SearchHit[];
  total: number;
  totalIsEstimate: boolean;
  nextCursor: string | null;
  /**
   * Set when the page stopped at the newest MATCH_WORK_LIMIT matches instead of filling up: the matches written after
   * this time (ISO) were tested. By time, nextCursor goes on with the older ones; by relevance, only those were ranked.
   */
  searchedBackTo: string | null;
  tookMs: number;
}

/** The query for this dialect's engine, or null when the text has nothing searchable. */
export function engineQueryFor(dialect: DialectName, q: string): string | null {
  const tokens = queryTokens(q);
  return dialect === 'sqlite' ? toFts5Match(tokens) : toTsQuery(tokens);
}

export class SearchError extends Error {
  constructor(public readonly code: 'invalid_cursor' | 'unknown_agent', message: string) {
    super(message);
  }
}

/**
 * Where the next page starts: by time, the last hit's search key and id (or the key alone: every match below it); by
 * relevance, an offset. It carries the first page's total (`t`, `e`: an estimate): later pages answer that instead of
 * counting again, since their count would test the same newest matches (the work limit) for the same number.
 */
const cursorSchema = z
  .object({
    k: z.number().int().nonnegative().optional(),
    id: z.string().max(100).optional(),
    o: z.number().int().nonnegative().optional(),
    t: z.number().int().nonnegative().optional(),
    e: z.boolean().optional(),
  })
  .strict();
type Cursor = z.infer<typeof cursorSchema>;

/** sort=relevance ranks the newest this many matches (within the filters): bm25 over every hit of 您好 would take seconds */
export const RELEVANCE_WINDOW = 10_000;

function decodeCursor(c: string | undefined): Cursor | undefined {
  if (!c) return undefined;
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(c, 'base64url').toString('utf8')));
  } catch {
    throw new SearchError('invalid_cursor', 'cursor is not one this server issued; start the search again without it');
  }
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

/**
 * Finds messages: every query word must occur (Chinese as a substring, simplified/traditional and full/half width
 * alike; Latin words by prefix; digits anywhere in a number), within the filters. Newest first or by relevance.
 */
/**
 * Whose eyes a search is for: a staff member (their scope applies), the local operator at the server (everything), or
 * a staff member's explicit unmasked export (only the conversations their valid unmask grants cover).
 */
export type SearchScope = Viewer | 'all' | { unmaskedFor: Viewer };

export async function searchMessages(db: Kysely<Database>, dialect: DialectName, params: SearchParams, scope: SearchScope, opts: { matchWorkLimit?: number } = {}): Promise<SearchResult> {
  const started = performance.now();
  const tokens = queryTokens(params.q);
  const engineQuery = dialect === 'sqlite' ? toFts5Match(tokens) : toTsQuery(tokens);
  const hasQuery = params.q.trim().length > 0;
  if (hasQuery && engineQuery === null) {
    // only punctuation or emoji: nothing searchable, nothing found
    return { hits: [], total: 0, totalIsEstimate: false, nextCursor: null, searchedBackTo: null, tookMs: performance.now() - started };
  }

  const cursor = decodeCursor(params.cursor);
  const byRelevance = params.sort === 'relevance' && engineQuery !== null;
  const drift = await readDrift(db);
  const range = timeKeyRange(params, drift);
  // one filtered query for the count and the page: Kysely builders are immutable, and building it resolves --agent
  const base = await filteredMessages(db, dialect, params, engineQuery, scope, range);

  let n: number;
  let lowerBound = false;
  const conversationFilters = scope !== 'all' || params.customer || params.agent || params.group || params.channel || params.tag || params.conversation;
  const timeFiltered = params.from !== undefined || params.to !== undefined;
  const workLimit = opts.matchWorkLimit ?? MATCH_WORK_LIMIT;
  // the key after the newest workLimit matches: only matches above it are tested against the filters
  const bounded = engineQuery !== null && conversationFilters && Number.isFinite(workLimit);
  const carried = cursor?.t !== undefined ? { total: cursor.t, estimate: cursor.e === true } : null;
  // needed by the count, the first page, and relevance's later pages (they rank within the first page's matches)
  const boundary = bounded && (carried === null || byRelevance || cursor?.k === undefined) ? await keyAfterNewest(db, dialect, engineQuery, range, workLimit) : null;
  if (carried) {
    n = carried.total;
  } else if (engineQuery !== null && !conversationFilters && (!timeFiltered || drift === 0)) {
    // nothing but the query and a time filter whose key range is exact (every key in its own millisecond): the index alone counts
    n = await countInIndex(db, dialect, engineQuery, range, EXACT_COUNT_LIMIT + 1);
  } else {
    let counted = base;
    if (boundary !== null) {
      counted = counted.where(searchKeyColumn(dialect, true), '>', boundary);
      lowerBound = true;
    }
    const r = await db
      .selectFrom(counted.select(sql<number>`1`.as('one')).limit(EXACT_COUNT_LIMIT + 1).as('capped'))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    n = Number(r.n);
  }

  const key = searchKeyColumn(dialect, engineQuery !== null);
  // the page's share of the work limit: the newest workLimit matches below the cursor (by relevance: the first page's)
  let pageBoundary = boundary;
  if (bounded && !byRelevance && cursor?.k !== undefined) {
    // keys are integers; a cursor with an id may go on with hits of its own key (PostgreSQL ties)
    const below = cursor.id === undefined ? cursor.k : cursor.k + 1;
    pageBoundary = await keyAfterNewest(db, dialect, engineQuery!, { lo: range.lo, hi: range.hi === undefined ? below : Math.min(range.hi, below) }, workLimit);
  }
  const paged = pageBoundary === null ? base : base.where(key, '>', pageBoundary);
  const columns = ['m.id', 'm.conversation_id', 'm.seq', 'm.sender_kind', 'm.sender_id', 'm.type', 'm.body', 'm.created_at', 'c.external_id', 'c.customer_id', 'c.channel', 'cu.name as customer_name'] as const;
  const withCustomer = paged.innerJoin('customer as cu', 'cu.id', 'c.customer_id');
  // the count covered the first page's matches and found none: a narrow scope need not test them twice
  const nothing = n === 0 && cursor === undefined;
  let rows;
  if (byRelevance && dialect === 'sqlite') {
    // bm25 over the newest RELEVANCE_WINDOW hits, computed by the FTS scan that finds them; only the page's rows are
    // read whole
    const ranked = paged
      .select([relevanceScore(dialect, engineQuery!).as('score'), key.as('k')])
      .orderBy(key, 'desc')
      .limit(RELEVANCE_WINDOW);
    const top = db.selectFrom(ranked.as('r')).select(['r.k', 'r.score']).orderBy('r.score', 'desc').orderBy('r.k', 'desc').limit(params.limit + 1).offset(cursor?.o ?? 0);
    rows = nothing
      ? []
      : await db
        .selectFrom(top.as('t'))
        .innerJoin('message as m', 'm.search_key', 't.k')
        .innerJoin('conversation as c', 'c.id', 'm.conversation_id')
        .innerJoin('customer as cu', 'cu.id', 'c.customer_id')
        .select(columns)
        .select('t.k as k')
        .orderBy('t.score', 'desc')
        .orderBy('t.k', 'desc')
        .execute();
  } else {
    let page = withCustomer.select(columns).select(key.as('k')).limit(params.limit + 1);
    if (byRelevance) {
      page = page.orderBy(relevanceScore(dialect, engineQuery!), 'desc').orderBy('m.search_key', 'desc').orderBy('m.id', 'desc').offset(cursor?.o ?? 0);
    } else {
      if (cursor?.k !== undefined) {
        const { k, id } = cursor;
        // keys are unique in SQLite; PostgreSQL nodes may share one, and the id breaks the tie
        page = dialect === 'sqlite' || id === undefined ? page.where(key, '<', k) : page.where((eb) => eb.or([eb(key, '<', k), eb.and([eb(key, '=', k), eb('m.id', '<', id)])]));
      }
      // SQLite's keys are unique, and a second sort term would stop FTS5 from delivering its hits in key order
      page = dialect === 'sqlite' ? page.orderBy(key, 'desc') : page.orderBy(key, 'desc').orderBy('m.id', 'desc');
    }
    rows = nothing ? [] : await page.execute();
  }

  const more = rows.length > params.limit;
  const shown = rows.slice(0, params.limit);
  // a lower bound is at least what this page shows (its hits may be older than the counted ones)
  const total = carried ? (carried.estimate ? Math.max(carried.total, shown.length) : carried.total) : Math.min(lowerBound ? Math.max(n, shown.length) : n, EXACT_COUNT_LIMIT);
  const totalIsEstimate = carried ? carried.estimate : n > EXACT_COUNT_LIMIT || lowerBound;
  const counted = { t: total, ...(totalIsEstimate ? { e: true } : {}) };
  const words = tokens.terms.map((t) => t.word);
  const hits: SearchHit[] = shown.map((r) => {
    // the index holds the digits, so a phone number finds its message; what is shown is masked
    const body = maskPii(r.body).text;
    const snippet = makeSnippet(body, words);
    return {
      conversationId: r.conversation_id,
      externalId: r.external_id,
      customerId: r.customer_id,
      customerName: maskPii(r.customer_name).text,
      channel: r.channel,
      messageId: r.id,
      seq: Number(r.seq),
      sender: { kind: r.sender_kind, id: r.sender_id },
      type: r.type,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      body,
      snippet: snippet.text,
      highlights: snippet.highlights,
    };
  });
  let nextCursor: string | null = null;
  let searchedBackTo: string | null = null;
  if (more) {
    const last = shown.at(-1)!;
    nextCursor = byRelevance ? encodeCursor({ o: (cursor?.o ?? 0) + params.limit, ...counted }) : encodeCursor({ k: Number(last.k), id: last.id, ...counted });
  } else if (pageBoundary !== null) {
    // the work limit ended the page: the next one starts at the boundary's match, the newest not yet tested
    searchedBackTo = new Date(await createdAtOfKey(db, pageBoundary)).toISOString();
    if (!byRelevance) nextCursor = encodeCursor({ k: pageBoundary + 1, ...counted });
  }
  return {
    hits,
    total,
    totalIsEstimate,
    nextCursor,
    searchedBackTo,
    tookMs: Math.round((performance.now() - started) * 10) / 10,
  };
}

/** When the message with this search key was written (a key is that time × KEY_SLOTS_PER_MS plus a slot, later on a collision). */
async function createdAtOfKey(db: Kysely<Database>, key: number): Promise<number> {
  const r = await db.selectFrom('message').select('created_at').where('search_key', '=', key).limit(1).executeTakeFirst();
  return r ? Number(r.created_at) : Math.floor(key / KEY_SLOTS_PER_MS);
}

/** The search-key range of the time filter (the filter on created_at itself is applied too). */
function timeKeyRange(params: { from?: string; to?: string }, driftMs: number) {
  return keyRange(params.from ? Date.parse(params.from) : undefined, params.to ? Date.parse(params.to) : undefined, driftMs);
}

/**
 * Messages (alias `m`, joined with their conversation `c`) that match the engine query and the filters: the one
 * definition of "what a search finds", shared by search, export and the CLI.
 */
export async function filteredMessages(
  db: Kysely<Database>,
  dialect: DialectName,
  params: Omit<SearchParams, 'sort' | 'cursor' | 'limit'>,
  engineQuery: string | null,
  scope: SearchScope,
  /** the time filter's key range, when the caller has it already */
  knownRange?: KeyRange,
) {
  let agentId: string | undefined;
  if (params.agent) {
    const u = await db.selectFrom('app_user').select('id').where((eb) => eb.or([eb('login', '=', params.agent!), eb('id', '=', params.agent!)])).executeTakeFirst();
    if (!u) throw new SearchError('unknown_agent', `no staff account with login "${params.agent}"`);
    agentId = u.id;
  }

  const range = knownRange ?? timeKeyRange(params, await readDrift(db));
  // a search finds every acknowledged message, also those the writer thread has not indexed yet
  if (engineQuery !== null) await catchUpSearchIndex(db);
  const from = engineQuery !== null ? matchingMessages(db, dialect, engineQuery, range) : db.selectFrom('message as m');
  let base = from
    .innerJoin('conversation as c', 'c.id', 'm.conversation_id')
    .where('m.type', '!=', 'event')
    // content removed by retention is gone from search and export too
    .where('m.purged_at', 'is', null);
  if (scope !== 'all') base = base.where('unmaskedFor' in scope ? unmaskScope(scope.unmaskedFor) : conversationScope(scope));
  if (engineQuery === null) {
    if (range.lo !== undefined) base = base.where('m.search_key', '>=', range.lo);
    if (range.hi !== undefined) base = base.where('m.search_key', '<', range.hi);
  }
  if (params.from) base = base.where('m.created_at', '>=', Date.parse(params.from));
  if (params.to) base = base.where('m.created_at', '<', Date.parse(params.to));
  if (params.customer) {
    const key = params.customer;
    base = base.where((eb) => eb.or([eb('c.customer_id', '=', key), eb('c.customer_id', 'in', eb.selectFrom('customer').select('id').where('external_id', '=', key))]));
  }
  if (agentId) base = base.where('c.assignee_id', '=', agentId);
  if (params.group) base = base.where('c.group_id', '=', params.group);
  if (params.channel) base = base.where('c.channel', '=', params.channel);
  if (params.conversation) base = base.where((eb) => eb.or([eb('c.id', '=', params.conversation!), eb('c.external_id', '=', params.conversation!)]));
  if (params.tag) base = base.where('c.id', 'in', db.selectFrom('conversation_tag').select('conversation_id').where('tag', '=', params.tag));

  return base;
}
