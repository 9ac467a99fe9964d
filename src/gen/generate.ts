// Deterministic synthetic event data (transactions, support tickets, clicks) plus a ready asof.yaml.
// Rows are produced and written by an in-memory DuckDB (range() + seeded hashes + COPY), so no row
// ever passes through JavaScript and 100M-row runs stream through DuckDB's spilling sort.

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { AsofError } from '../errors.js';

export type GenFormat = 'parquet' | 'csv';

export interface GenOptions {
  /** Project folder: data goes to `<out>/data/`, the spec to `<out>/asof.yaml`. */
  out: string;
  users: number;
  /** Number of transactions; support tickets are ~events/20 and clicks ~events/2. */
  events: number;
  days: number;
  /** 'YYYY-MM-DD', the last day of data (inclusive), in `timezone`. */
  endDate: string;
  seed: number;
  format: GenFormat;
  /** IANA name written into the spec; timestamps are naive local times in it. Default 'UTC'. */
  timezone?: string;
  /** `project:` name in the spec. Default: the out folder's name. */
  project?: string;
  /**
   * Also write `data/clickstream.jsonl`, the clicks as a tracker delivers them (JSON lines, ~2%
   * delivered twice), and declare the ELT example in the spec: the `clickstream` source to land in
   * raw, the `sessions` source over the model refined.sessions and the view `user_sessions`. The
   * project then needs the models of src/scaffold/clickstream.ts (`asof demo` writes them).
   */
  clickstream?: boolean;
}

export interface GenFile {
  source: GenSourceName;
  path: string;
  rows: number;
}

export interface GenResult {
  files: GenFile[];
  specPath: string;
  durationMs: number;
}

export type GenSourceName = 'transactions' | 'support_tickets' | 'clicks' | 'clickstream';
type ColumnType = 'string' | 'double' | 'timestamp';

const SQL_TYPE: Record<ColumnType, string> = { string: 'VARCHAR', double: 'DOUBLE', timestamp: 'TIMESTAMP' };

/** What the SQL builders need: all values already validated, so inlining them is safe. */
interface GenContext {
  users: number;
  days: number;
  /** Epoch microseconds of local midnight starting the first day, as a naive timestamp. */
  startMicros: bigint;
  /** hash(seed), folded into every random stream so seeds give unrelated data. */
  seedMix: bigint;
  /** Multiplier and offset of the bijection rank -> user number (so user 1 is not the most active). */
  userA: number;
  userB: number;
  userWidth: number;
}

interface SourceDef {
  name: GenSourceName;
  /** Distinct per source, so two sources never share a random stream. */
  streamBase: number;
  rows: (events: number) => number;
  timestamp: string;
  ingestedAt?: string;
  primaryKey?: string;
  columns: readonly (readonly [string, ColumnType])[];
  /** Comment lines put above the source in asof.yaml. */
  about: readonly string[];
  /**
   * A query yielding every column in `columns` plus the row number `i`, reading row numbers `i` from
   * `from` (a table expression: range(rows) or the sorted row numbers). Every value must be a pure
   * function of `i`, so recomputing a row after sorting gives the same row.
   */
  select: (ctx: GenContext, rows: number, from: string) => string;
}

// ---- random streams ------------------------------------------------------------------------------
// hash() is DuckDB's 64-bit integer mixer; keying it on (row, stream) instead of calling random()
// makes every value a pure function of (seed, row), so thread count and scheduling cannot change it.
// The top 53 bits divided by 2^53 give an exact double in [0, 1).

const STREAMS_PER_KEY = 64;

function uniform(ctx: GenContext, key: string, stream: number): string {
  return `((hash(xor(${key} * ${STREAMS_PER_KEY} + ${stream}, ${ctx.seedMix}::UBIGINT)) >> 11)::DOUBLE / 9007199254740992.0)`;
}

/**
 * A skewed pick of a user: rank density proportional to 1 / (x + eps) on [0, 1), inverted from the
 * uniform `u`. The most active user gets ~1 / (eps * ln(1 + 1 / eps)) times the mean whatever the user
 * count (eps 0.005: 38x, top 1% of users make ~21% of rows), the least active ~0.2x.
 */
function userId(ctx: GenContext, u: string, eps: number): string {
  const x = `${eps} * (pow(${(1 + eps) / eps}, ${u}) - 1)`;
  const rank = `least(floor(${ctx.users} * ${x})::BIGINT, ${ctx.users - 1})`;
  const n = `((${rank} * ${ctx.userA} + ${ctx.userB}) % ${ctx.users} + 1)`;
  return `'u' || lpad(${n}::VARCHAR, ${ctx.userWidth}, '0')`;
}

/** Day index 0..days-1: 60% uniform, 40% growing linearly towards the end (a business that grows). */
function dayIndex(ctx: GenContext, u1: string, u2: string, pick: string): string {
  return `least(floor(${ctx.days} * CASE WHEN ${pick} < 0.6 THEN ${u1} ELSE greatest(${u1}, ${u2}) END)::BIGINT, ${ctx.days - 1})`;
}

/** Second of the day with a daily cycle: 30% uniform, 70% triangular peaking at `peakHour`. */
function secondOfDay(u1: string, u2: string, pick: string, peakHour: number): string {
  const shift = (peakHour - 12) / 24 + 1;
  const frac = `CASE WHEN ${pick} < 0.3 THEN ${u1} ELSE ((${u1} + ${u2}) / 2 + ${shift}) % 1 END`;
  return `least(floor(${frac} * 86400)::BIGINT, 86399)`;
}

function timestampAt(ctx: GenContext, day: string, second: string): string {
  return `make_timestamp(${ctx.startMicros}::BIGINT + (${day}) * 86400000000 + (${second}) * 1000000)`;
}

/** Pick from `values` with probabilities `weights` (summing to 1) using one uniform. */
function weighted(u: string, values: readonly string[], weights: readonly number[]): string {
  let acc = 0;
  const whens: string[] = [];
  for (let k = 0; k < values.length - 1; k++) {
    acc += weights[k] ?? 0;
    whens.push(`WHEN ${u} < ${acc.toFixed(6)} THEN ${sqlString(values[k] ?? '')}`);
  }
  return `CASE ${whens.join(' ')} ELSE ${sqlString(values[values.length - 1] ?? '')} END`;
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function padded(prefix: string, n: string, width: number): string {
  return `${sqlString(prefix)} || lpad(${n}::VARCHAR, ${width}, '0')`;
}

function digits(n: number): number {
  return String(Math.max(0, n - 1)).length;
}

// ---- the three sources ---------------------------------------------------------------------------

const CATEGORIES = [
  'groceries',
  'restaurants',
  'transport',
  'entertainment',
  'fashion',
  'electronics',
  'utilities',
  'travel',
] as const;
/** Median amount per category; amounts are log-normal around it. */
const CATEGORY_MEDIAN = [32, 24, 14, 20, 55, 140, 75, 260] as const;

const transactions: SourceDef = {
  name: 'transactions',
  streamBase: 0,
  rows: (events) => events,
  timestamp: 'event_ts',
  ingestedAt: 'ingested_at',
  primaryKey: 'txn_id',
  columns: [
    ['txn_id', 'string'],
    ['user_id', 'string'],
    ['event_ts', 'timestamp'],
    ['amount', 'double'],
    ['status', 'string'],
    ['category', 'string'],
    ['ingested_at', 'timestamp'],
  ],
  about: [
    'Card payments. ~90% succeed; amounts are log-normal per category, ~0.5% are missing.',
    'ingested_at is when the row reached the warehouse: seconds to minutes after the',
    'payment, but ~2% arrive 1-3 days late (what a backfill must pick up).',
  ],
  select: (ctx, rows, from) => {
    const u = (k: number): string => uniform(ctx, 'i::UBIGINT', transactions.streamBase + k);
    const z = `sqrt(-2 * ln(1 - u_a1)) * cos(2 * pi() * u_a2)`;
    const median = `[${CATEGORY_MEDIAN.map((m) => m.toFixed(1)).join(', ')}][cat + 1]`;
    return `
      SELECT i,
        ${padded('t', 'i', digits(rows))} AS txn_id,
        ${userId(ctx, 'u_user', 0.005)} AS user_id,
        ${timestampAt(ctx, 'day', 'sec')} AS event_ts,
        CASE WHEN u_null < 0.005 THEN NULL ELSE round(${median} * exp(0.8 * ${z}), 2) END AS amount,
        ${weighted('u_status', ['success', 'failed', 'refunded'], [0.9, 0.07, 0.03])} AS status,
        [${CATEGORIES.map(sqlString).join(', ')}][cat + 1] AS category,
        ${timestampAt(ctx, 'day', 'sec')} + to_seconds(CASE
          WHEN u_late < 0.02 THEN 86400 + floor(u_late_by * 2 * 86400)::BIGINT
          ELSE 5 + floor(pow(u_delay, 3) * 900)::BIGINT END) AS ingested_at
      FROM (
        SELECT *,
          ${dayIndex(ctx, 'u_d1', 'u_d2', 'u_dpick')} AS day,
          ${secondOfDay('u_t1', 'u_t2', 'u_tpick', 15)} AS sec,
          least(floor(${CATEGORIES.length} * pow(u_cat, 1.5))::BIGINT, ${CATEGORIES.length - 1}) AS cat
        FROM (
          SELECT i,
            ${u(0)} AS u_user, ${u(1)} AS u_d1, ${u(2)} AS u_d2, ${u(3)} AS u_dpick,
            ${u(4)} AS u_t1, ${u(5)} AS u_t2, ${u(6)} AS u_tpick,
            ${u(7)} AS u_a1, ${u(8)} AS u_a2, ${u(9)} AS u_null, ${u(10)} AS u_status,
            ${u(11)} AS u_cat, ${u(12)} AS u_delay, ${u(13)} AS u_late, ${u(14)} AS u_late_by
          FROM ${from} r(i)
        )
      )`;
  },
};

const supportTickets: SourceDef = {
  name: 'support_tickets',
  streamBase: 16,
  rows: (events) => Math.ceil(events / 20),
  timestamp: 'event_ts',
  primaryKey: 'ticket_id',
  columns: [
    ['ticket_id', 'string'],
    ['user_id', 'string'],
    ['event_ts', 'timestamp'],
    ['priority', 'string'],
    ['channel', 'string'],
  ],
  about: ['Support tickets, mostly in office hours; active customers write more of them.'],
  select: (ctx, rows, from) => {
    const u = (k: number): string => uniform(ctx, 'i::UBIGINT', supportTickets.streamBase + k);
    return `
      SELECT i,
        ${padded('k', 'i', digits(rows))} AS ticket_id,
        ${userId(ctx, 'u_user', 0.05)} AS user_id,
        ${timestampAt(ctx, dayIndex(ctx, 'u_d1', 'u_d2', 'u_dpick'), secondOfDay('u_t1', 'u_t2', 'u_tpick', 11))} AS event_ts,
        ${weighted('u_prio', ['low', 'medium', 'high'], [0.55, 0.35, 0.1])} AS priority,
        ${weighted('u_chan', ['email', 'chat', 'phone', 'web'], [0.35, 0.3, 0.2, 0.15])} AS channel
      FROM (
        SELECT i,
          ${u(0)} AS u_user, ${u(1)} AS u_d1, ${u(2)} AS u_d2, ${u(3)} AS u_dpick,
          ${u(4)} AS u_t1, ${u(5)} AS u_t2, ${u(6)} AS u_tpick, ${u(7)} AS u_prio, ${u(8)} AS u_chan
        FROM ${from} r(i)
      )`;
  },
};

const PAGES = ['/home', '/search', '/product', '/cart', '/offers', '/account', '/checkout', '/help'] as const;
/** Rows are cut into blocks of this many clicks; each block is split into two sessions at a random point. */
const CLICK_BLOCK = 6;

const clicks: SourceDef = {
  name: 'clicks',
  streamBase: 32,
  rows: (events) => Math.ceil(events / 2),
  timestamp: 'event_ts',
  columns: [
    ['user_id', 'string'],
    ['event_ts', 'timestamp'],
    ['page', 'string'],
    ['session_id', 'string'],
  ],
  about: ['Page views grouped in sessions of a few clicks, seconds to a minute apart.'],
  select: (ctx, rows, from) => {
    // Per-click streams are keyed on the row, per-session ones on the session, so every click of a
    // session shares its user, day and start time.
    const uc = (k: number): string => uniform(ctx, 'i::UBIGINT', clicks.streamBase + k);
    const us = (k: number): string => uniform(ctx, 'sess::UBIGINT', clicks.streamBase + 16 + k);
    const block = `i // ${CLICK_BLOCK}`;
    const split = `least(floor(${uniform(ctx, `(${block})::UBIGINT`, clicks.streamBase)} * ${CLICK_BLOCK + 1})::BIGINT, ${CLICK_BLOCK})`;
    // A session starts early enough in its day that its last click (< 10 minutes later) stays in it.
    return `
      SELECT i,
        ${userId(ctx, 's_user', 0.005)} AS user_id,
        ${timestampAt(ctx, 'day', `least(start_sec, ${86400 - 600}) + pos * gap + floor(u_jit * gap * 0.9)::BIGINT`)} AS event_ts,
        CASE WHEN pos = 0 AND u_page < 0.5 THEN '/home'
          ELSE [${PAGES.map(sqlString).join(', ')}][least(floor(${PAGES.length} * pow(u_page, 1.3))::BIGINT, ${PAGES.length - 1}) + 1]
        END AS page,
        ${padded('s', 'sess', digits(2 * Math.ceil(rows / CLICK_BLOCK)))} AS session_id
      FROM (
        SELECT *,
          ${dayIndex(ctx, 's_d1', 's_d2', 's_dpick')} AS day,
          ${secondOfDay('s_t1', 's_t2', 's_tpick', 20)} AS start_sec,
          5 + floor(s_gap * 85)::BIGINT AS gap
        FROM (
          SELECT *,
            ${us(0)} AS s_user, ${us(1)} AS s_d1, ${us(2)} AS s_d2, ${us(3)} AS s_dpick,
            ${us(4)} AS s_t1, ${us(5)} AS s_t2, ${us(6)} AS s_tpick, ${us(7)} AS s_gap,
            ${uc(1)} AS u_jit, ${uc(2)} AS u_page
          FROM (
            SELECT i, 2 * (${block}) + second_half AS sess,
              CASE WHEN second_half = 1 THEN j - split ELSE j END AS pos
            FROM (
              SELECT i, j, split, CASE WHEN j >= split THEN 1 ELSE 0 END AS second_half
              FROM (SELECT i, i % ${CLICK_BLOCK} AS j, ${split} AS split FROM ${from} r(i))
            )
          )
        )
      )`;
  },
};

const SOURCES: readonly SourceDef[] = [transactions, supportTickets, clicks];

/** Share of clicks the tracker delivers a second time, up to an hour later (what dedup removes). */
const REDELIVERED = 0.02;

/**
 * The clicks as raw tracker JSON: an event_id per click, the local time as ISO text, a kind and a
 * nested `props` object that only the raw JSON keeps. Redelivered copies come later in the file, in
 * delivery order, as they would from a queue.
 */
function clickstreamQuery(ctx: GenContext, rows: number): string {
  // Streams 40..42 keyed on the row: clicks uses 33..34 on rows, 32 on blocks, 48.. on sessions.
  const u = (k: number): string => uniform(ctx, 'i::UBIGINT', clicks.streamBase + 8 + k);
  return `
    SELECT event_id, user_id, ts, page, kind, props FROM (
      SELECT c.i, d.copy,
        ${padded('e', 'c.i', digits(rows))} AS event_id,
        c.user_id,
        strftime(c.event_ts, '%Y-%m-%dT%H:%M:%S') AS ts,
        c.page,
        CASE WHEN ${u(0)} < 0.3 THEN 'view' ELSE 'click' END AS kind,
        {'ab': CASE WHEN ${u(1)} < 0.5 THEN 'a' ELSE 'b' END} AS props,
        c.event_ts + to_seconds(d.copy * (60 + floor(${u(2)} * 3540)::BIGINT)) AS delivered
      FROM (${clicks.select(ctx, rows, `range(${rows})`)}) c
      JOIN (VALUES (0), (1)) d(copy) ON d.copy = 0 OR ${u(3)} < ${REDELIVERED}
    )
    ORDER BY delivered, i, copy`;
}

// ---- entry point ---------------------------------------------------------------------------------

/**
 * Writes `<out>/data/{transactions,support_tickets,clicks}.<format>` and `<out>/asof.yaml`.
 * Same options, same bytes (for CSV; for a given DuckDB version). Each file is written beside its
 * final name and renamed, so a killed run leaves earlier files intact and only `*.tmp-*` litter.
 */
export async function generate(opts: GenOptions): Promise<GenResult> {
  const started = performance.now();
  validate(opts);
  const out = resolve(opts.out);
  const dataDir = join(out, 'data');
  await mkdir(dataDir, { recursive: true });
  const spillDir = join(out, `.asof-gen-spill-${process.pid}`);

  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const files: GenFile[] = [];
  try {
    // Two threads and 8GB leave room for the rest of a 2-core / 24 GiB box; the sorts behind
    // ORDER BY spill to spillDir beyond that, which is what lets 100M rows through.
    await conn.run(`SET threads = 2`);
    await conn.run(`SET memory_limit = '8GB'`);
    await conn.run(`SET temp_directory = ${sqlString(spillDir)}`);
    await conn.run(`SET preserve_insertion_order = true`);
    const ctx = await context(conn, opts);

    for (const source of SOURCES) {
      const rows = source.rows(opts.events);
      const path = join(dataDir, `${source.name}.${opts.format}`);
      const written = await copySource(conn, ctx, source, rows, path, opts.format);
      files.push({ source: source.name, path, rows: written });
    }
    if (opts.clickstream) {
      const path = join(dataDir, 'clickstream.jsonl');
      const tmp = `${path}.tmp-${process.pid}`;
      try {
        const r = await conn.runAndReadAll(
          `COPY (${clickstreamQuery(ctx, clicks.rows(opts.events))}) TO ${sqlString(tmp)} (FORMAT json)`,
        );
        await rename(tmp, path);
        files.push({ source: 'clickstream', path, rows: Number(r.getRowsJS()[0]?.[0] ?? 0) });
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    }
  } finally {
    conn.closeSync();
    db.closeSync();
    await rm(spillDir, { recursive: true, force: true });
  }

  const specPath = join(out, 'asof.yaml');
  const project = opts.project ?? projectName(out);
  await writeAtomic(specPath, renderSpec({ ...opts, project }));
  return { files, specPath, durationMs: Math.round(performance.now() - started) };
}

async function context(conn: DuckDBConnection, opts: GenOptions): Promise<GenContext> {
  const r = await conn.runAndReadAll(
    `SELECT epoch_us((DATE ${sqlString(opts.endDate)} - ${opts.days - 1})::TIMESTAMP) AS start_us,
            hash(${opts.seed}::BIGINT) AS seed_mix`,
  );
  const row = r.getRowObjectsJS()[0];
  const startMicros = row?.start_us;
  const seedMix = row?.seed_mix;
  if (typeof startMicros !== 'bigint' || typeof seedMix !== 'bigint') {
    throw new AsofError('unexpected', 'DuckDB returned no start date or seed hash for the generator');
  }
  const userA = coprimeMultiplier(opts.users);
  return {
    users: opts.users,
    days: opts.days,
    startMicros,
    seedMix,
    userA,
    userB: Math.floor(opts.users / 3),
    userWidth: String(opts.users).length,
  };
}

async function copySource(
  conn: DuckDBConnection,
  ctx: GenContext,
  source: SourceDef,
  rows: number,
  path: string,
  format: GenFormat,
): Promise<number> {
  const cols = source.columns.map(([name, type]) => `${name}::${SQL_TYPE[type]} AS ${name}`).join(', ');
  // The row number breaks timestamp ties, so the order (and hence the file) is total. Only
  // (timestamp, row number) is sorted and the full rows are recomputed in that order (kept by
  // preserve_insertion_order): the sort moves 16 bytes a row instead of every string column, which
  // took the 10M-transaction benchmark from ~15.5 s to ~11.5 s.
  const sorted = `(SELECT i FROM (${source.select(ctx, rows, `range(${rows})`)}) ORDER BY ${source.timestamp}, i)`;
  const query = `SELECT ${cols} FROM (${source.select(ctx, rows, sorted)})`;
  const options =
    format === 'csv'
      ? `FORMAT csv, HEADER true, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S'`
      : `FORMAT parquet, COMPRESSION snappy`; // zstd costs ~25% more time for ~20% smaller files
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const r = await conn.runAndReadAll(`COPY (${query}) TO ${sqlString(tmp)} (${options})`);
    await rename(tmp, path);
    const count = r.getRowsJS()[0]?.[0];
    return typeof count === 'bigint' || typeof count === 'number' ? Number(count) : rows;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, path);
}

/** The smallest multiplier >= users * 0.618 that is coprime with users, so rank -> user is a bijection. */
function coprimeMultiplier(users: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let a = Math.max(1, Math.floor(users * 0.618));
  while (gcd(a, users) !== 1) a++;
  return a;
}

function projectName(out: string): string {
  const name = basename(out)
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[a-z]/.test(name) ? name : `asof_${name || 'demo'}`;
}

// ---- validation ----------------------------------------------------------------------------------

function validate(opts: GenOptions): void {
  const need = (ok: boolean, field: string, found: unknown, hint: string): void => {
    if (!ok) {
      throw new AsofError('usage', `gen: invalid ${field}: ${JSON.stringify(found)}`, {}, hint);
    }
  };
  // Bounds keep the hash keys (row * 64 + stream) and user arithmetic inside 64-bit integers.
  need(isCount(opts.users, 1, 1e9), 'users', opts.users, 'an integer between 1 and 1e9');
  need(isCount(opts.events, 0, 1e11), 'events', opts.events, 'an integer between 0 and 1e11');
  need(isCount(opts.days, 1, 36500), 'days', opts.days, 'an integer between 1 and 36500');
  need(Number.isSafeInteger(opts.seed), 'seed', opts.seed, 'a (safe) integer');
  need(opts.format === 'parquet' || opts.format === 'csv', 'format', opts.format, "'parquet' or 'csv'");
  need(isCalendarDate(opts.endDate), 'endDate', opts.endDate, 'a calendar date as YYYY-MM-DD');
  const tz = opts.timezone ?? 'UTC';
  need(isTimezone(tz), 'timezone', tz, "an IANA time zone such as 'UTC' or 'Europe/Berlin'");
  if (opts.project !== undefined) {
    need(/^[A-Za-z][A-Za-z0-9_-]*$/.test(opts.project), 'project', opts.project, 'letters, digits, _ and -');
  }
}

function isCount(n: number, min: number, max: number): boolean {
  return Number.isSafeInteger(n) && n >= min && n <= max;
}

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  return y >= 1900 && monthDays !== undefined && d >= 1 && d <= monthDays;
}

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

// ---- asof.yaml -----------------------------------------------------------------------------------

type SpecInput = GenOptions & { project: string };

/** The spec for the generated data: valid asof.yaml, commented for someone seeing asof for the first time. */
export function renderSpec(opts: SpecInput): string {
  const tz = opts.timezone ?? 'UTC';
  const L: string[] = [];
  L.push(
    `# asof project with synthetic data, made by:`,
    opts.clickstream
      ? `#   asof demo --users ${opts.users} --events ${opts.events} --as-of ${opts.endDate}   (also writes models/)`
      : `#   asof gen --users ${opts.users} --events ${opts.events} --days ${opts.days} --end-date ${opts.endDate} --seed ${opts.seed} --format ${opts.format}`,
    `# The same command always writes the same data. ${opts.days} days of events end on ${opts.endDate}.`,
    `#`,
    `# Try it (from this folder):`,
    `#   asof build --project . --as-of ${opts.endDate}`,
    `#   asof show  --project . --view user_spend --as-of ${opts.endDate}`,
    ``,
    `project: ${opts.project}`,
    `# Calendar days, windows and cutoffs are counted in this time zone; the timestamps in the data`,
    `# files are local times in it (no offset).`,
    `timezone: ${tz}`,
    `storage:`,
    `  # Where built feature tables go (relative to this file), one partition per as_of_date.`,
    `  offline: .asof/lake`,
    ``,
    `# Sources: raw event tables, read as they are. \`timestamp\` says when an event happened: a feature`,
    `# computed as of a date only ever sees events up to its cutoff, never later ones.`,
    `sources:`,
  );
  for (const s of SOURCES) {
    for (const line of s.about) L.push(`  # ${line}`);
    L.push(`  ${s.name}:`, `    path: data/${s.name}.${opts.format}`, `    timestamp: ${s.timestamp}`);
    if (s.ingestedAt) {
      L.push(`    # When each row arrived; rows that arrive late change days already built.`);
      L.push(`    ingested_at: ${s.ingestedAt}`);
    }
    if (s.primaryKey) L.push(`    primary_key: ${s.primaryKey}`);
    L.push(`    columns: { ${s.columns.map(([n, t]) => `${n}: ${t}`).join(', ')} }`);
  }
  if (opts.clickstream) {
    L.push(
      `  # The same page views as the tracker sends them: JSON lines, ~2% delivered twice. ELT: land`,
      `  # them as they are (asof load --source clickstream) into raw.clickstream, then the SQL models`,
      `  # in models/ refine them: refined.clicks (typed, deduplicated) -> refined.sessions (a gap over`,
      `  # 30 minutes starts a new session) -> features.user_active_24h (incremental, one date each).`,
      `  clickstream:`,
      `    path: data/clickstream.jsonl`,
      `    timestamp: ts`,
      `    columns: { event_id: string, user_id: string, ts: timestamp, page: string }`,
      `  # A model as a source: the rows of refined.sessions after each good build of it. A session`,
      `  # counts from its last click (session_end), so no click after a cutoff is ever read.`,
      `  sessions:`,
      `    model: refined.sessions`,
      `    timestamp: session_end`,
      `    columns: { user_id: string, session_no: int, session_start: timestamp, session_end: timestamp, clicks: int }`,
    );
  }
  L.push(
    ``,
    `# Entities: what features describe. Every view is keyed by one entity's key column.`,
    `entities:`,
    `  user:`,
    `    key: user_id`,
    ``,
    `# Views: a set of features over one source for one entity, computed for each as_of_date.`,
    `#   version   bump it when you change what the view computes, to keep old results apart.`,
    `#   cutoff    end_of_day: an as_of_date sees its own day (features built after the day closes);`,
    `#             start_of_day: it sees only earlier days (features used at the start of the day).`,
    `#   where     a filter on source rows, applied before aggregating.`,
    `#   features  name: { agg, column, window }. agg is one of count, sum, avg, min, max, exists,`,
    `#             count_distinct, last, first, stddev, days_since_last; window is Nh, Nd or all,`,
    `#             counted back from the cutoff (7d with end_of_day = the as_of_date and 6 days before).`,
    `views:`,
    `  user_spend:`,
    `    entity: user`,
    `    source: transactions`,
    `    version: 1`,
    `    cutoff: end_of_day`,
    `    where: "status = 'success'"`,
    `    features:`,
    `      avg_amount_7d: { agg: avg, column: amount, window: 7d, description: "Average successful payment over the last 7 days" }`,
    `      purchases_30d: { agg: count, window: 30d, description: "Number of successful payments over the last 30 days" }`,
    `      sum_amount_30d: { agg: sum, column: amount, window: 30d }`,
    `      max_amount_7d: { agg: max, column: amount, window: 7d }`,
    `  user_activity:`,
    `    entity: user`,
    `    source: clicks`,
    `    version: 1`,
    `    cutoff: end_of_day`,
    `    features:`,
    `      active_24h: { agg: exists, window: 24h, description: "Clicked anything in the 24 hours before the cutoff" }`,
    `      clicks_7d: { agg: count, window: 7d }`,
    `  user_support:`,
    `    entity: user`,
    `    source: support_tickets`,
    `    version: 1`,
    `    # A churn score made each morning must not see that day's tickets.`,
    `    cutoff: start_of_day`,
    `    features:`,
    `      ticket_count_30d: { agg: count, window: 30d }`,
  );
  if (opts.clickstream) {
    L.push(
      `  user_sessions:`,
      `    entity: user`,
      `    # A view over a model (refined.sessions) instead of a file.`,
      `    source: { model: refined.sessions }`,
      `    version: 1`,
      `    cutoff: end_of_day`,
      `    features:`,
      `      sessions_7d: { agg: count, window: 7d, description: "Sessions ended in the last 7 days" }`,
      `      clicks_7d: { agg: sum, column: clicks, window: 7d, description: "Clicks in those sessions" }`,
    );
  }
  L.push(``);
  return L.join('\n');
}
