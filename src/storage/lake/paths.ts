// Where things live in the lake: <offline>/<view>/v<version>/as_of_date=YYYY-MM-DD/.

import path from 'node:path';

export const MANIFEST_FILE = '_manifest.json';
export const DATA_FILE = 'part-0.parquet';

export function viewDir(offline: string, view: string): string {
  return path.join(offline, view);
}

export function versionDir(offline: string, view: string, version: number): string {
  return path.join(offline, view, `v${version}`);
}

export function partitionDir(offline: string, view: string, version: number, asOfDate: string): string {
  return path.join(versionDir(offline, view, version), `as_of_date=${asOfDate}`);
}

/** One run's work on one partition: what its staging and trash folders are named after. */
type PartitionRun = [offline: string, view: string, version: number, asOfDate: string, runId: string];

function runDir(
  folder: '.staging' | '.trash',
  ...[offline, view, version, asOfDate, runId]: PartitionRun
): string {
  return path.join(versionDir(offline, view, version), folder, `as_of_date=${asOfDate}.${runId}`);
}

/** Half-written partitions are built here, then renamed into place. */
export function stagingDir(...run: PartitionRun): string {
  return runDir('.staging', ...run);
}

/** The partition being replaced waits here during the swap, so a crash can put it back. */
export function trashDir(...run: PartitionRun): string {
  return runDir('.trash', ...run);
}
