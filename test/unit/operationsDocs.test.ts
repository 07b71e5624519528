import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUMMARY_EVENTS, SUMMARY_FIELDS } from '../../src/telemetry/summary';

/** docs/operations.md and the alerts' queries name only the fields the code writes (SUMMARY_FIELDS). */
const ROOT = join(__dirname, '..', '..');
const guide = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
const alertDir = join(ROOT, 'infra', 'alerts');
const alertQueries = readdirSync(alertDir)
  .filter((f) => f.endsWith('.kql'))
  .map((f) => [f, readFileSync(join(alertDir, f), 'utf8')] as const);
const guideQueries = [...guide.matchAll(/```kql\n([\s\S]*?)```/g)].map((m) => m[1]);
const allQueries = [...guideQueries, ...alertQueries.map(([, q]) => q)];

describe('the operator guide and the alerts', () => {
  it('query only fields the summary lines have', () => {
    const used = new Set(
      allQueries.flatMap((q) => [...q.matchAll(/\b(?:s|customDimensions)\.([A-Za-z]+)/g)].map((m) => m[1])),
    );
    expect(used.size).toBeGreaterThan(8);
    for (const field of used) expect(SUMMARY_FIELDS, field).toContain(field);
  });

  it('match only events the code writes', () => {
    const events = allQueries.flatMap((q) => [...q.matchAll(/tostring\(s\.event\) == '(\w+)'/g)].map((m) => m[1]));
    expect(new Set(events)).toEqual(new Set(SUMMARY_EVENTS));
  });

  it('read the summary fields in both forms: custom dimensions (export) or the JSON message (log)', () => {
    const both = '| extend s = iff(message startswith \'{"event":\', parse_json(message), customDimensions)';
    const reading = allQueries.filter((q) => /\bs\.[A-Za-z]/.test(q));
    expect(reading.length).toBeGreaterThan(8);
    for (const q of reading) expect(q).toContain(both);
  });

  it('show each alert query verbatim', () => {
    // The alerts are the files infra/modules/alerts.bicep loads, each one a .kql file of infra/alerts/ and no file left out.
    const alertModule = readFileSync(join(ROOT, 'infra', 'modules', 'alerts.bicep'), 'utf8');
    const loaded = [...alertModule.matchAll(/loadTextContent\('\.\.\/alerts\/([^']+)'\)/g)].map((m) => m[1]);
    expect(loaded.length).toBeGreaterThan(0);
    expect(alertQueries.map(([file]) => file).sort()).toEqual([...loaded].sort());
    for (const [file, query] of alertQueries) expect(guideQueries, file).toContain(query);
  });

  it('list every field in the field table', () => {
    const table = guide.slice(guide.indexOf('| field |'), guide.indexOf('No token'));
    const listed = [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) =>
      [...m[1].matchAll(/`(\w+)`/g)].map((f) => f[1]),
    );
    expect(listed.sort()).toEqual([...SUMMARY_FIELDS].sort());
  });

  it('answer the operator questions: 401s by rule and tenant, a tenant’s failed jobs, outcomes by job type, slowest requests, one ActivityId', () => {
    for (const heading of [
      '401s by failing rule and tenant',
      "Why did this tenant's job fail",
      'Job outcomes by job type',
      'Slowest requests',
      "One request's whole story by ActivityId",
    ]) {
      expect(guide).toContain(`### ${heading}`);
    }
  });
});
