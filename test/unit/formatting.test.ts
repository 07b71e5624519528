import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../dev/projectRoot';

/** Every file git knows that Prettier formats (.prettierignore leaves out Markdown, Bicep, the vendored contract). */
async function formattedFiles(): Promise<string[]> {
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
  });
  const files: string[] = [];
  for (const file of tracked.split('\n').filter(Boolean)) {
    const info = await prettier.getFileInfo(join(PROJECT_ROOT, file), {
      ignorePath: join(PROJECT_ROOT, '.prettierignore'),
    });
    if (!info.ignored && info.inferredParser) files.push(file);
  }
  return files;
}

describe('formatting', () => {
  it('every source, test, dev and JSON file is as Prettier writes it (npm run format)', async () => {
    const files = await formattedFiles();
    expect(files.length).toBeGreaterThan(100);
    const unformatted: string[] = [];
    for (const file of files) {
      const path = join(PROJECT_ROOT, file);
      const options = await prettier.resolveConfig(path);
      if (!(await prettier.check(readFileSync(path, 'utf8'), { ...options, filepath: path }))) unformatted.push(file);
    }
    expect(unformatted).toEqual([]);
  });
});
