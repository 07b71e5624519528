import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../dev/projectRoot';

/**
 * The layers of src/, top first: a module may import from its own layer or
 * any layer below, never from one above, and no two folders may import each
 * other, directly or around a circle. A folder or top-level file missing from
 * this list fails the test, so a new one gets a place on purpose.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['functions'],
  // Composition roots and the package's entry modules.
  ['app.ts', 'config', 'cli', 'writer.ts'],
  ['http'],
  // The domain.
  ['jobs', 'execution', 'items', 'auth', 'endpoints', 'handlers'],
  ['telemetry', 'storage', 'clients'],
  ['fabric'],
  // Base helpers.
  ['ids.ts', 'url.ts', 'logValue.ts', 'azureHost.ts', 'text.ts'],
];

const SRC = join(PROJECT_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The part of src/ a file belongs to: its top-level folder, or itself for a file at the top. */
function partOf(file: string): string {
  return relative(SRC, file).split(/[\\/]/)[0];
}

/** Relative imports and requires of a file, resolved to files under src/ (type-only imports included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((specifier) => {
    const path = resolve(dirname(file), specifier);
    return existsSync(`${path}.ts`) ? `${path}.ts` : join(path, 'index.ts');
  });
}

interface Edge {
  from: string;
  to: string;
  file: string;
}

function edges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    importsOf(file)
      .filter((target) => target.startsWith(SRC))
      .map((target) => ({ from: partOf(file), to: partOf(target), file: relative(PROJECT_ROOT, file) }))
      .filter((edge) => edge.from !== edge.to),
  );
}

const layerOf = (part: string) => LAYERS.findIndex((layer) => layer.includes(part));

/** Every circle of the folder graph, as a list of parts. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const visit = (node: string, path: string[]) => {
    for (const next of graph.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) found.push([...path.slice(at), next]);
      else visit(next, [...path, next]);
    }
  };
  for (const node of graph.keys()) visit(node, [node]);
  return found;
}

describe('the layers of src/', () => {
  const all = edges();

  it('every folder and top-level file of src/ has a layer', () => {
    const parts = [...new Set(sourceFiles(SRC).map(partOf))];
    expect(parts.filter((part) => layerOf(part) < 0)).toEqual([]);
  });

  it('no import runs back up', () => {
    const upward = all
      .filter((edge) => layerOf(edge.to) < layerOf(edge.from))
      .map((edge) => `${edge.file} imports ${edge.to}, a layer above ${edge.from}`);
    expect(upward).toEqual([]);
  });

  it('no two folders import each other, directly or around a circle', () => {
    const graph = new Map<string, Set<string>>();
    for (const { from, to } of all) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    expect(cycles(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('src/clients, which job handlers are given, imports only the contract and the base helpers', () => {
    const allowed = new Set(['fabric', 'text.ts', 'logValue.ts', 'url.ts', 'ids.ts']);
    const outside = all
      .filter((edge) => edge.from === 'clients' && !allowed.has(edge.to))
      .map((edge) => `${edge.file} imports ${edge.to}`);
    expect(outside).toEqual([]);
    expect(all.some((edge) => edge.from === 'clients' && edge.to === 'ids.ts')).toBe(true);
  });

  it('sees the imports it judges (a check of the check)', () => {
    expect(all.some((edge) => edge.from === 'functions' && edge.to === 'http')).toBe(true);
    expect(all.some((edge) => edge.from === 'execution' && edge.to === 'jobs')).toBe(true);
    expect(layerOf('fabric')).toBeGreaterThan(layerOf('jobs'));
  });
});
