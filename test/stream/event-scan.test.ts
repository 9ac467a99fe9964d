// The stream job's line reader (a scanner for flat JSON object lines, JSON.parse for the rest)
// gives exactly JSON.parse + checkEvent's result for every line: valid events, every dead-letter
// reason, and lines built to trip a scanner (escapes, nesting, duplicate keys, odd numbers).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OfflineRecordPrinter, type RecordRow } from '../../src/engines/duckdb/events-writer.js';
import type { Source } from '../../src/spec/project.js';
import { type Checked, checkEvent, EventReader, NOT_JSON } from '../../src/stream/event.js';

const SOURCE: Source = {
  name: 'e',
  path: 'x',
  format: 'jsonl',
  timestamp: 'ts',
  columns: { k: 'string', ts: 'timestamp', n: 'int', d: 'double', b: 'bool', day: 'date' },
  primaryKey: undefined,
  ingestedAt: undefined,
  description: undefined,
  owner: undefined,
};
const KEYS = ['k'];

function reference(text: string, tz: string, latestTs?: number): Checked {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: NOT_JSON };
  }
  return checkEvent(raw, SOURCE, KEYS, tz, latestTs);
}

/** Object.is on numbers (a -0 that became 0 would be a different value), toEqual elsewhere. */
function same(a: Checked, b: Checked): void {
  expect(a).toEqual(b);
  if (a.ok && b.ok) {
    for (const c of Object.keys(a.row)) expect(Object.is(a.row[c], b.row[c])).toBe(true);
    expect(Object.keys(a.row)).toEqual(Object.keys(b.row));
  }
}

/** A staged record's fields as DuckDB reads them: quoted text, NULL (empty), true/false or a number. */
function fieldsOf(record: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  for (;;) {
    if (record[i] === '"') {
      let v = '';
      for (i++; ; i++) {
        if (record[i] === '"' && record[i + 1] === '"') {
          v += '"';
          i++;
        } else if (record[i] === '"') break;
        else v += record[i];
      }
      out.push(v);
      i++;
    } else {
      let j = i;
      while (record[j] !== ',' && record[j] !== '\n') j++;
      const t = record.slice(i, j);
      out.push(t === '' ? null : t === 'true' ? true : t === 'false' ? false : Number(t));
      i = j;
    }
    if (record[i++] === '\n') break;
  }
  expect(i).toBe(record.length);
  return out;
}

const jsonNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.integer().map(String),
  fc.constantFrom(
    '0',
    '-0',
    '-0.0',
    '0.1',
    '1.5',
    '12.340',
    '1e3',
    '1E-2',
    '-2.5e+2',
    '9007199254740993',
    '123456789012345',
    '1234567890123456',
    '0.1234567890123456789',
    '1.7976931348623157e308',
    '1e400',
    '01',
    '1.',
    '.5',
    '-',
    '+1',
    '1e',
    '0x10',
    'NaN',
    'Infinity',
  ),
);
const jsonString = fc.oneof(
  fc.string().map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary' }).map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '"2025-01-01 10:00:00"',
    '"2025-01-01T10:00:00Z"',
    '"2025-01-01T10:00:00+02:00"',
    '"2025-01-01"',
    '"2025-13-45 10:00:00"',
    '"12"',
    '" 12 "',
    '"1.5e3"',
    '"true"',
    '"f"',
    '"a\\"b"',
    '"\\u0041"',
    '"tab\there"',
    '"\\ud800"',
    '"\ud800"',
    '"😀"',
    '"unterminated',
    '""',
  ),
);
const scalar = fc.oneof(
  jsonNumber,
  jsonString,
  fc.constantFrom('true', 'false', 'null', 'tru', 'nul', 'falsey'),
);
const value = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constantFrom('{}', '[]', '[1,2]', '{"a":1}', '{"k":"x"}', '[', '{') },
);
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('k', 'ts', 'n', 'd', 'b', 'day').map((k) => JSON.stringify(k)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '"other"',
      '"__proto__"',
      '"\\u006b"',
      '"t\\u0073"',
      '"k"',
      '"constructor"',
      'k',
      "'k'",
    ),
  },
);
const ws = fc.constantFrom('', '', '', ' ', '\t', '\n', '\r\n', '  ', '\u00a0', '\ufeff');
/** A line built from members, with random whitespace and, sometimes, broken punctuation. */
const line = fc
  .tuple(
    fc.array(fc.tuple(ws, key, ws, value, ws), { maxLength: 9 }),
    ws,
    ws,
    fc.constantFrom('', '', '', '', ',', '}', 'x', ':'),
    fc.constantFrom('{', '{', '{', '{', '[', ''),
    fc.constantFrom('}', '}', '}', '}', ']', ''),
  )
  .map(([members, a, b, extra, open, close]) => {
    const body = members.map(([w1, k, w2, v, w3]) => `${w1}${k}${w2}:${w2}${v}${w3}`).join(',');
    return `${a}${open}${body}${extra}${close}${b}`;
  });
/** A well-formed event most of the time: the scanner's own path, with random values. */
const event = fc
  .record(
    {
      k: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
      ts: fc.oneof(
        fc.constantFrom(
          '2025-01-01 10:00:00',
          '2025-03-30T01:30:00',
          '2025-01-01T10:00:00.25Z',
          '2025-01-01',
          'x',
        ),
        fc.constant(null),
      ),
      n: fc.oneof(fc.integer(), fc.double(), fc.constantFrom('12', 'x', null)),
      d: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('1.5', null, true)),
      b: fc.oneof(fc.boolean(), fc.constantFrom('t', 'no', 0, 1)),
      other: fc.oneof(fc.string(), fc.integer()),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));

/** A well-formed event with one character inserted, replaced or deleted somewhere. */
const damaged = fc
  .tuple(
    event,
    fc.nat(),
    fc.constantFrom('insert', 'replace', 'delete'),
    fc.constantFrom(
      '\t',
      '\n',
      '\u0001',
      '"',
      '\\',
      ',',
      ':',
      '{',
      '}',
      '[',
      ' ',
      '0',
      '-',
      '.',
      'e',
      'x',
      '\ud83d',
    ),
  )
  .map(([t, at, how, ch]) => {
    const i = at % (t.length + 1);
    if (how === 'insert') return t.slice(0, i) + ch + t.slice(i);
    if (how === 'replace') return t.slice(0, i) + ch + t.slice(i + 1);
    return t.slice(0, i) + t.slice(i + 1);
  });

describe('the stream line reader', () => {
  const tzs = fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York');

  // the offline record the stream job stages for an event, as text
  const printer = new OfflineRecordPrinter(SOURCE);
  const scratch = Buffer.alloc(1 << 16);
  const print = (seq: number, row: RecordRow, text?: string, at?: Int32Array, end?: Int32Array) =>
    scratch.toString('utf8', 0, printer.print(scratch, 0, seq, row, text, at, end));

  it('agrees with JSON.parse + checkEvent on random and nasty lines', () => {
    fc.assert(
      fc.property(
        fc.oneof(line, event),
        tzs,
        fc.option(fc.integer({ min: 1.7e12, max: 1.8e12 })),
        (t, tz, latest) => {
          const reader = new EventReader(SOURCE, KEYS, tz);
          const want = reference(t, tz, latest ?? undefined);
          const got = reader.read(t, latest ?? undefined);
          same(got, want);
          // the object a late event is logged with
          if (reader.parsed !== undefined) expect(reader.parsed).toEqual(JSON.parse(t));
          if (got.ok) {
            // the offline record reusing the event's own text holds the same values as the printed one
            const reused = fieldsOf(print(7, got.row, t, reader.printedAt, reader.printedEnd));
            const printed = fieldsOf(print(7, got.row));
            expect(reused).toEqual(printed);
            for (let i = 0; i < printed.length; i++) expect(Object.is(reused[i], printed[i])).toBe(true);
          }
        },
      ),
      { numRuns: 20000, seed: 8 },
    );
  });

  it('reads one reader after another line without leaking values between lines', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(line, event, damaged), { maxLength: 20 }), tzs, (ls, tz) => {
        const reader = new EventReader(SOURCE, KEYS, tz);
        for (const t of ls) same(reader.read(t), reference(t, tz));
      }),
      { numRuns: 2000, seed: 9 },
    );
  });

  it('scans ordinary lines itself and leaves the unusual ones to JSON.parse', () => {
    const reader = new EventReader(SOURCE, KEYS, 'UTC');
    const plain = [
      '{"k":"a","ts":"2025-01-01 10:00:00","n":12,"d":1.25,"b":true}',
      ' { "ts" : "2025-01-01T10:00:00Z" , "k" : "b", "extra": [1] } ',
      '{"d":-0,"k":"c","ts":"2025-01-01","other":"x","n":"7"}',
    ];
    const unusual = [
      '{"k":"a\\u0062","ts":"2025-01-01"}',
      '{"k":"a","k":"b","ts":"2025-01-01"}',
      '{"k":{"x":1}}',
      '[1]',
      'x',
    ];
    for (const t of [...plain, ...unusual]) same(reader.read(t), reference(t, 'UTC'));
    // the offline record takes plain strings and numbers from the event's text
    const t = '{"k":"a","ts":"2025-01-01 10:00:00","n":12,"d":1.250}';
    const c = reader.read(t);
    if (!c.ok) throw new Error('expected an event');
    expect(print(3, c.row, t, reader.printedAt, reader.printedEnd)).toBe(
      `3,"a",${Date.UTC(2025, 0, 1, 10)},12,1.250,,\n`,
    );
    const z = t.replace('1.250', '-0');
    const cz = reader.read(z);
    if (!cz.ok) throw new Error('expected an event');
    expect(print(3, cz.row, z, reader.printedAt, reader.printedEnd)).toContain(',12,0,');
    reader.scanned -= 2;
    // the nested "extra" value of the second line is JSON.parse's too
    expect(reader.scanned).toBe(2);
    expect(reader.fellBack).toBe(6);
    expect(reader.read('{"k":"e"}')).toEqual({ ok: false, reason: 'column ts: the event time is empty' });
    expect(reader.read('{"k":"e","ts":"2025-01-01","n":1.5}')).toEqual({
      ok: false,
      reason: 'column n: cannot read 1.5 as int',
    });
    expect(reader.read('{"k":"e",')).toEqual({ ok: false, reason: 'not valid JSON' });
    // a column named like an Object.prototype member and absent from the line: what JSON.parse's object gives
    const odd = { ...SOURCE, columns: { k: 'string', ts: 'timestamp', toString: 'string' } } as Source;
    const oddReader = new EventReader(odd, KEYS, 'UTC');
    for (const t of ['{"k":"e","ts":"2025-01-01"}', '{"k":"e","ts":"2025-01-01","toString":"x"}']) {
      expect(oddReader.read(t)).toEqual(checkEvent(JSON.parse(t), odd, KEYS, 'UTC'));
    }
    expect(oddReader.read('{"k":"e","ts":"2025-01-01"}')).toMatchObject({
      ok: false,
      reason: /column toString/,
    });
    expect(oddReader.scanned).toBe(3);
    // a column named __proto__ (a valid name): the row is built column by column, as checkEvent does
    const proto = { ...SOURCE, columns: JSON.parse('{"k":"string","ts":"timestamp","__proto__":"string"}') };
    const protoReader = new EventReader(proto, KEYS, 'UTC');
    for (const t of [
      '{"k":"e","ts":"2025-01-01 10:00:00","__proto__":"x"}',
      '{"k":"e","ts":"2025-01-01 10:00:00","__proto__":null}',
      '{"k":"e","ts":"2025-01-01 10:00:00"}',
    ]) {
      const got = protoReader.read(t);
      const want = checkEvent(JSON.parse(t), proto, KEYS, 'UTC');
      expect(got).toEqual(want);
      if (got.ok && want.ok) expect(Object.getPrototypeOf(got.row)).toBe(Object.getPrototypeOf(want.row));
    }
    expect(protoReader.scanned).toBe(3);
  });
});
