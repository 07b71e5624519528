/**
 * `npm run check:infra`: compiles every Bicep entry point under infra/ to
 * ARM JSON (`bicep build`) and lints every .bicep file (`bicep lint`, with
 * infra/bicepconfig.json). Passes only with no diagnostic at all: an error,
 * a warning or an info line fails it. Exit code 2 when there is no compiler.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findBicep, HOW_TO_GET_BICEP, runBicep, type BicepCli } from './bicepCli';
import { PROJECT_ROOT } from './projectRoot';

export const INFRA_DIR = join(PROJECT_ROOT, 'infra');

/** Entry points: the .bicep files directly in infra/ (modules/ holds what they include). */
export function entryPoints(): string[] {
  return readdirSync(INFRA_DIR)
    .filter((name) => name.endsWith('.bicep'))
    .sort()
    .map((name) => join(INFRA_DIR, name));
}

export interface TemplateCheck {
  /** Every diagnostic of every build and of the lint; empty when all is clean. */
  diagnostics: string[];
  /** Entry point (relative to infra/) → its ARM JSON, exactly what az sends to Azure. */
  compiled: Map<string, unknown>;
}

export async function checkTemplates(cli: BicepCli): Promise<TemplateCheck> {
  const compiled = new Map<string, unknown>();
  const diagnostics: string[] = [];
  const builds = entryPoints().map(async (file) => {
    const run = await runBicep(cli, ['build', '--stdout', file]);
    diagnostics.push(...run.diagnostics);
    if (run.exitCode !== 0) diagnostics.push(`bicep build ${relative(PROJECT_ROOT, file)} exited with ${run.exitCode}`);
    else compiled.set(relative(INFRA_DIR, file), JSON.parse(run.stdout));
  });
  const lint = runBicep(cli, ['lint', '--pattern', 'infra/**/*.bicep']).then((run) => {
    diagnostics.push(...run.diagnostics);
    if (run.exitCode !== 0 && run.diagnostics.length === 0) diagnostics.push(`bicep lint exited with ${run.exitCode}`);
  });
  await Promise.all([...builds, lint]);
  // A diagnostic found by both build and lint is one finding.
  return { diagnostics: [...new Set(diagnostics)].sort(), compiled };
}

async function main(): Promise<void> {
  const cli = findBicep();
  if (!cli) {
    process.stderr.write(`npm run check:infra: no Bicep compiler found. Get one with: ${HOW_TO_GET_BICEP}\n`);
    process.exitCode = 2;
    return;
  }
  const { version } = await runBicep(cli, ['--version']).then((run) => ({ version: run.stdout.trim() }));
  process.stdout.write(`${version} (${cli.source}: ${cli.path})\n`);
  const { diagnostics, compiled } = await checkTemplates(cli);
  for (const line of diagnostics) process.stdout.write(`${line}\n`);
  const built = [...compiled.keys()].join(', ') || 'nothing';
  if (diagnostics.length > 0) {
    process.stdout.write(`infra/: ${diagnostics.length} finding(s); built ${built}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`infra/: built ${built} and linted every .bicep file: no errors, no warnings\n`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`npm run check:infra: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
