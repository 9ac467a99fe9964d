// Atomic, idempotent partition writes: data and manifest are written into a staging folder, then
// swapped in by rename; the old partition waits in .trash until the new one is in place.
// Killed at any moment, a writer leaves either the old partition or the new one, never a mix:
// before the swap only staging is touched; between the two renames recover() puts the old one back.

import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { type PartitionManifest, readManifest } from './manifest.js';
import { MANIFEST_FILE, partitionDir, stagingDir, trashDir, versionDir } from './paths.js';

export interface PartitionRef {
  offline: string;
  view: string;
  version: number;
  asOfDate: string;
}

function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Writes a partition: `write(dir)` fills a fresh staging folder with data files; then the manifest
 * (from `manifest(dataFiles)`) is written last and the folder swapped into place.
 */
export async function writePartition(
  ref: PartitionRef,
  runId: string,
  write: (dir: string) => Promise<string[]>,
  manifest: (dataFiles: PartitionManifest['data_files']) => PartitionManifest,
): Promise<string> {
  const staging = stagingDir(ref.offline, ref.view, ref.version, ref.asOfDate, runId);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const files = await write(staging);
    const dataFiles = files.map((f) => {
      const full = path.join(staging, f);
      fsyncPath(full);
      return { path: f, bytes: statSync(full).size, sha256: sha256File(full) };
    });
    const manifestFile = path.join(staging, MANIFEST_FILE);
    writeFileSync(manifestFile, `${JSON.stringify(manifest(dataFiles), null, 2)}\n`);
    fsyncPath(manifestFile);
    fsyncPath(staging);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  return swapIn(ref, runId, staging);
}

function swapIn(ref: PartitionRef, runId: string, staging: string): string {
  const final = partitionDir(ref.offline, ref.view, ref.version, ref.asOfDate);
  const trash = trashDir(ref.offline, ref.view, ref.version, ref.asOfDate, runId);
  if (existsSync(final)) {
    mkdirSync(path.dirname(trash), { recursive: true });
    renameSync(final, trash);
  }
  renameSync(staging, final);
  fsyncPath(path.dirname(final));
  rmSync(trash, { recursive: true, force: true });
  return final;
}

/**
 * Repairs what a killed writer left in a view version: an old partition caught mid-swap goes back
 * in place, half-written staging folders are removed. Call it only while holding the view's lock.
 */
export function recover(
  offline: string,
  view: string,
  version: number,
): { restored: string[]; removed: number } {
  const vdir = versionDir(offline, view, version);
  const restored: string[] = [];
  let removed = 0;
  const trashRoot = path.join(vdir, '.trash');
  for (const entry of safeList(trashRoot)) {
    const m = /^as_of_date=(\d{4}-\d{2}-\d{2})\./.exec(entry);
    const final = m ? partitionDir(offline, view, version, m[1] ?? '') : undefined;
    const from = path.join(trashRoot, entry);
    if (final && !existsSync(final) && readManifest(from)) {
      renameSync(from, final);
      restored.push(final);
    } else {
      rmSync(from, { recursive: true, force: true });
      removed++;
    }
  }
  const stagingRoot = path.join(vdir, '.staging');
  for (const entry of safeList(stagingRoot)) {
    rmSync(path.join(stagingRoot, entry), { recursive: true, force: true });
    removed++;
  }
  return { restored, removed };
}

/** The readable folder of a partition: in place, or (during a swap) the old copy in .trash. */
export function readablePartitionDir(ref: PartitionRef): string | undefined {
  const final = partitionDir(ref.offline, ref.view, ref.version, ref.asOfDate);
  if (readManifest(final)) return final;
  const trashRoot = path.join(versionDir(ref.offline, ref.view, ref.version), '.trash');
  const old = safeList(trashRoot).find((e) => e.startsWith(`as_of_date=${ref.asOfDate}.`));
  return old && readManifest(path.join(trashRoot, old)) ? path.join(trashRoot, old) : undefined;
}

/** One data file of a partition that does not match its manifest entry. */
export interface DamagedFile {
  file: string;
  problem: string;
}

/**
 * Checks a partition's data files against its manifest (presence, size, sha256): a file changed
 * or truncated on disk after the swap (bit rot, a partial copy, a stray writer) is named here.
 */
export function verifyPartition(dir: string, manifest: PartitionManifest): DamagedFile[] {
  const out: DamagedFile[] = [];
  for (const f of manifest.data_files) {
    const file = path.join(dir, f.path);
    let bytes: number;
    try {
      bytes = statSync(file).size;
    } catch {
      out.push({ file, problem: 'missing' });
      continue;
    }
    if (bytes !== f.bytes) {
      out.push({ file, problem: `${bytes} bytes, the manifest says ${f.bytes}` });
      continue;
    }
    const sha = sha256File(file);
    if (sha !== f.sha256) {
      out.push({
        file,
        problem: `sha256 ${sha.slice(0, 12)}..., the manifest says ${f.sha256.slice(0, 12)}...`,
      });
    }
  }
  return out;
}

/** The dates with a published partition in a view version, sorted. */
export function listPartitions(offline: string, view: string, version: number): string[] {
  return safeList(versionDir(offline, view, version))
    .map((e) => /^as_of_date=(\d{4}-\d{2}-\d{2})$/.exec(e)?.[1])
    .filter((d): d is string => d !== undefined)
    .sort();
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
