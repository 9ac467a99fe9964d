// Removes the run's temporary folder (see vitest.config.ts) once every test file has finished.

import { rmSync } from 'node:fs';

export default function setup(): () => void {
  return () => {
    const dir = process.env.ASOF_TEST_TMP;
    if (dir?.includes('asof-vitest-')) rmSync(dir, { recursive: true, force: true });
  };
}
