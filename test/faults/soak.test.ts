// Soak: `asof stream` fed at a fixed rate for 60 s while `asof serve` answers reads at a fixed rate
// in parallel (single GETs and batch POSTs). Asserts that no event is lost (offline rows = events
// sent), that no read fails, and that the memory (RSS) of both processes stops growing; prints
// the throughput and the read latency percentiles that RELIABILITY.md records.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { makeProject, REPO_ROOT } from '../support/project.js';
import { SPEC } from '../support/stream.js';

// ASOF_SOAK_SECONDS runs a longer soak by hand (the suite's default is 60 s)
const SECONDS = Number(process.env.ASOF_SOAK_SECONDS ?? 60);
const EVENTS_PER_SECOND = 1000;
const READS_PER_SECOND = 100;
const USERS = 2000;
// event time moves 45 s per event: the run covers 31 days of event time, so the 7-day windows
// fill in the first quarter and then slide (state bounded by the windows, as in production)
const EVENT_SPACING_MS = 45_000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'asof.js'), ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

describe('soak: stream + serve', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it(
    `${SECONDS} s at ${EVENTS_PER_SECOND} events/s with ${READS_PER_SECOND} reads/s: nothing lost, no error, flat memory`,
    async () => {
      const dir = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': 'user_id,event_ts,amount,status\n' });
      const stream = cli([
        'stream',
        '--view',
        'v',
        '--source',
        'stdin',
        '--project',
        dir,
        '--checkpoint-ms',
        '500',
        '--offline-ms',
        '2000',
      ]);
      children.push(stream);
      let streamErr = '';
      stream.stderr?.on('data', (d) => {
        streamErr += d;
      });
      const streamDone = new Promise<number | null>((r) => stream.on('close', (code) => r(code)));
      // a first event so that the online store exists before the server opens it
      const t0 = Date.UTC(2025, 2, 28);
      let sent = 0;
      const line = (i: number) =>
        `${JSON.stringify({ user_id: `u${(i * 7919) % USERS}`, event_ts: new Date(t0 + i * EVENT_SPACING_MS).toISOString(), amount: (i % 1000) / 10, status: i % 10 === 0 ? 'fail' : 'ok' })}\n`;
      stream.stdin?.write(line(sent++));

      const serve = cli(['serve', '--port', '0', '--project', dir]);
      children.push(serve);
      const base = await new Promise<string>((resolve, reject) => {
        let err = '';
        serve.stderr?.on('data', (d) => {
          err += d;
          const m = /listening on (http:\/\/[^\s]+)/.exec(err);
          if (m) resolve(m[1] as string);
        });
        serve.on('close', () => reject(new Error(`serve exited: ${err}`)));
      });

      const latencies: number[] = [];
      const failures: string[] = [];
      const rss: { t: number; stream: number; serve: number }[] = [];
      const start = performance.now();
      const until = start + SECONDS * 1000;
      // events at a fixed rate, in 10 ms ticks
      const feeder = (async () => {
        while (performance.now() < until) {
          const due = Math.floor(((performance.now() - start) / 1000) * EVENTS_PER_SECOND);
          let chunk = '';
          while (sent < due) chunk += line(sent++);
          if (chunk && !stream.stdin?.write(chunk)) await new Promise((r) => stream.stdin?.once('drain', r));
          await new Promise((r) => setTimeout(r, 10));
        }
        stream.stdin?.end();
      })();
      // reads at a fixed rate: 9 GETs for each batch POST of 20 keys
      const reader = (async () => {
        let issued = 0;
        const inflight = new Set<Promise<void>>();
        while (performance.now() < until) {
          const due = Math.floor(((performance.now() - start) / 1000) * READS_PER_SECOND);
          while (issued < due) {
            const n = issued++;
            const q0 = performance.now();
            const req =
              n % 10 === 9
                ? fetch(`${base}/v1/features`, {
                    method: 'POST',
                    headers: { 'content-type': 'application/json' },
                    body: JSON.stringify({
                      entities: Array.from({ length: 20 }, (_, k) => `u${(n + k) % USERS}`),
                      features: ['v:n_1h', 'v:sum_1d', 'v:avg_all'],
                    }),
                  })
                : fetch(`${base}/v1/features/v/u${n % USERS}`);
            const p = req
              .then(async (r) => {
                await r.arrayBuffer();
                latencies.push(performance.now() - q0);
                if (r.status !== 200) failures.push(`${r.status}`);
              })
              .catch((e) => {
                failures.push(String(e));
              })
              .finally(() => inflight.delete(p));
            inflight.add(p);
          }
          await new Promise((r) => setTimeout(r, 10));
        }
        await Promise.all(inflight);
      })();
      const sampler = setInterval(() => {
        if (stream.pid && serve.pid && stream.exitCode === null) {
          rss.push({
            t: Math.round((performance.now() - start) / 1000),
            stream: rssMb(stream.pid),
            serve: rssMb(serve.pid),
          });
        }
      }, 2000);
      await Promise.all([feeder, reader]);
      clearInterval(sampler);
      const elapsed = (performance.now() - start) / 1000;
      expect(await streamDone, streamErr).toBe(0);
      serve.kill('SIGTERM');

      const engine = await DuckDbEngine.open({ threads: 1 });
      const counted = await engine.query(
        `SELECT count(*)::INT, count(DISTINCT _offset)::INT FROM read_parquet('${dir}/.asof/lake/_events/events/*/*.parquet')`,
      );
      await engine.close();
      const [offline, distinct] = (counted.rows[0] ?? []) as number[];
      const p50 = pct(latencies, 50);
      const p99 = pct(latencies, 99);
      const third = Math.floor(rss.length / 3);
      const peak = (xs: typeof rss, k: 'stream' | 'serve') => Math.max(...xs.map((x) => x[k]));
      const report = {
        seconds: Number(elapsed.toFixed(1)),
        events_sent: sent,
        events_per_second: Math.round(sent / elapsed),
        offline_rows: offline,
        reads: latencies.length,
        reads_per_second: Math.round(latencies.length / elapsed),
        read_errors: failures.length,
        read_p50_ms: Number(p50.toFixed(1)),
        read_p99_ms: Number(p99.toFixed(1)),
        rss_mb: rss.map((r) => `${r.t}s:${r.stream.toFixed(0)}/${r.serve.toFixed(0)}`).join(' '),
      };
      console.log(`soak: ${JSON.stringify(report)}`);
      // nothing lost: every event sent is in the lake exactly once
      expect(offline).toBe(sent);
      expect(distinct).toBe(sent);
      expect(failures).toEqual([]);
      expect(latencies.length).toBeGreaterThan(SECONDS * READS_PER_SECOND * 0.9);
      // memory stops growing: the last third's peak is within 10% (+16 MB) of the middle third's
      for (const k of ['stream', 'serve'] as const) {
        expect(peak(rss.slice(2 * third), k), `${k} RSS: ${report.rss_mb}`).toBeLessThan(
          peak(rss.slice(third, 2 * third), k) * 1.1 + 16,
        );
      }
    },
    (SECONDS + 90) * 1000,
  );
});
