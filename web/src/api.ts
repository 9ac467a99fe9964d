// The JSON the dashboard reads from `asof serve` (src/serve/dashboard.ts), typed as the front end uses it.

export type PartitionState = 'published' | 'failed' | 'stale' | 'missing';

export interface CalendarCell {
  as_of_date: string;
  state: PartitionState;
  rows?: number;
  duration_ms?: number;
  transformation_version?: string;
  run_id?: string;
  finished_at?: string;
  detail?: string;
  previous_rows?: number;
}

export interface Calendar {
  from: string | null;
  to: string | null;
  rows: { view: string; version: number; current: boolean; cells: CalendarCell[] }[];
  counts: Record<PartitionState, number>;
}

export interface FeaturePoint {
  as_of_date: string;
  rows: number | null;
  null_rate: number | null;
  mean: number | null;
  psi: number | null;
  attempt: 'published' | 'failed';
  breaches: string[];
}

export interface FeatureQuality {
  view: string;
  version: number;
  feature: string;
  type: string;
  thresholds: { null_rate_max?: number; psi_max?: number; range_min?: number; range_max?: number };
  points: FeaturePoint[];
}

export interface StreamSample {
  t: number;
  events_read: number;
  events_per_second: number | null;
  lag_seconds: number | null;
  late_ratio: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  latency_count: number;
}

export interface Stage {
  stage: string;
  source?: string;
  view?: string;
  status: string;
  rows_in?: number;
  rows_out?: number;
  rejected?: number;
  duration_ms: number;
  detail?: string;
}

export interface Run {
  run_id: string;
  command: string;
  started_at: string;
  finished_at: string;
  status: 'ok' | 'failed';
  error?: string;
  as_of_date?: string;
  exit_code?: number;
  partitions: { view: string; version: number; as_of_date: string; rows: number; duration_ms: number }[];
  checks?: {
    view: string;
    as_of_date?: string;
    check: string;
    status: string;
    severity: string;
    message: string;
  }[];
  stages?: Stage[];
}

export interface LineageGraph {
  layers: string[];
  nodes: { id: string; kind: string; label: string; layer: string; description?: string; version?: string }[];
  edges: { from: string; to: string }[];
}

export interface DictionaryEntry {
  view: string;
  feature: string;
  description: string | null;
  type: string;
  entity: string;
  keys: string[];
  window: string;
  aggregation: string;
  source: string;
  source_detail: string;
  filter: string | null;
  cutoff: string;
  feature_version: number;
  transformation_version: string;
  versions_in_lake: number[];
  owner: string | null;
  checks: string[];
  lineage: string[];
  latest: FeaturePoint | null;
}

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
