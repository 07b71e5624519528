import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The folder of the project's package.json, whether this runs compiled (dist/dev) or from source (dev, in tests). */
export function findProjectRoot(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot();
