// The JSON the dashboard reads from `asof serve` (src/serve/dashboard.ts), typed as the front end uses it.

// The types are the pipeline's own (type-only imports, erased from the bundle), so that a field the
// server renames or drops breaks `tsc -p web/tsconfig.json` instead of the page.
export type { DictionaryEntry } from '../../src/pipeline/dictionary.js';
export type { FeaturePoint, FeatureQuality } from '../../src/pipeline/feature-quality.js';
export type { LineageGraph } from '../../src/pipeline/lineage.js';
export type {
  CalendarCell,
  PartitionCalendar as Calendar,
  PartitionState,
} from '../../src/pipeline/partitions.js';
export type { StreamSample } from '../../src/pipeline/stream-status.js';
/** One line of the run history (GET /api/runs). */
export type { RunRecord as Run, StageRecord as Stage } from '../../src/storage/meta/runs.js';

const TOKEN_KEY = 'asof-token';

function request(path: string, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(path, { headers });
}

/** GETs a data route; when the server wants a token (reads need one), asks for it once per tab. */
export async function get<T>(path: string): Promise<T> {
  const used = sessionStorage.getItem(TOKEN_KEY);
  let r = await request(path, used);
  if (r.status === 401 || r.status === 403) {
    // several routes load at once: the first to fail asks (prompt blocks), the others reuse the answer
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (token === used) {
      token =
        window.prompt(`This server needs a token with the read scope (HTTP ${r.status})`)?.trim() || null;
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
    }
    if (token && token !== used) r = await request(path, token);
  }
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}
