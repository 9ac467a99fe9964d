// A view version's published partition for one date as readers find it: its folder and manifest
// (the partition in place, or the old one still in .trash while a swap is halfway through).

import { type PartitionManifest, readManifest } from './manifest.js';
import { readablePartitionDir } from './partition.js';

export interface PublishedPartition {
  dir: string;
  manifest: PartitionManifest;
}

/** The readable partition of `view` (name and version) as of `asOfDate`, if one is published. */
export function readPublished(
  offline: string,
  view: { name: string; version: number },
  asOfDate: string,
): PublishedPartition | undefined {
  const dir = readablePartitionDir({ offline, view: view.name, version: view.version, asOfDate });
  const manifest = dir ? readManifest(dir) : undefined;
  return dir && manifest ? { dir, manifest } : undefined;
}
