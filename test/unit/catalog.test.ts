import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATIONS, TOOLKIT_OPERATIONS, WORKLOAD_API_OPERATIONS } from '../../src/functions/catalog';
import { TOOLKIT_ROUTES } from '../../src/http/toolkitRoutes';
import { CONTRACT_FILES, SWAGGER_PATH, TOOLKIT_SWAGGER_PATH } from '../fixtures/contractSchema';

interface Swagger {
  paths: Record<string, Record<string, { operationId?: string; 'x-evidence'?: string }>>;
}

/** `operationId METHOD /path` of every operation of a contract file. */
function contractOperations(file: string): string[] {
  const swagger = JSON.parse(readFileSync(file, 'utf8')) as Swagger;
  return Object.entries(swagger.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([, op]) => op.operationId)
      .map(([method, op]) => `${op.operationId} ${method.toUpperCase()} /${path.replace(/^\//, '')}`),
  );
}

/** What a declaration needs to be declared (not run). */
const SERVICES = { config: { itemDefinitionMaxBytes: 4 * 1024 * 1024 } } as never;
const declared = (
  operations: readonly ((services: never) => { name: string; method: string; route: string; auth?: string })[],
) => operations.map((declare) => declare(SERVICES));
const served = (operations: Parameters<typeof declared>[0]) =>
  declared(operations).map((op) => `${op.name} ${op.method} /${op.route}`);

describe('the catalog', () => {
  it.each([
    [basename(SWAGGER_PATH), SWAGGER_PATH, WORKLOAD_API_OPERATIONS],
    [basename(TOOLKIT_SWAGGER_PATH), TOOLKIT_SWAGGER_PATH, TOOLKIT_OPERATIONS],
  ] as const)(
    "declares every operation of %s, with the contract's method and path, and nothing else",
    (_name, file, operations) => {
      const contract = contractOperations(file);
      expect(contract.length).toBeGreaterThan(0);
      expect(served(operations).sort()).toEqual([...contract].sort());
    },
  );

  it('serves exactly the operations of both contract files', () => {
    const contract = CONTRACT_FILES.flatMap(contractOperations);
    expect(served(OPERATIONS).sort()).toEqual(contract.sort());
    // No two operations share a name or a method and route.
    expect(new Set(declared(OPERATIONS).map((op) => op.name)).size).toBe(OPERATIONS.length);
    expect(new Set(served(OPERATIONS).map((line) => line.split(' ').slice(1).join(' '))).size).toBe(OPERATIONS.length);
  });

  it('marks each toolkit route as its contract file does: documented or provisional', () => {
    const swagger = JSON.parse(readFileSync(TOOLKIT_SWAGGER_PATH, 'utf8')) as Swagger;
    const evidence = Object.fromEntries(
      Object.entries(swagger.paths).map(([path, methods]) => [path.replace(/^\//, ''), methods.post?.['x-evidence']]),
    );
    for (const { route, evidence: marked } of Object.values(TOOLKIT_ROUTES))
      expect(evidence[route], route).toBe(marked);
  });

  it('authenticates endpoint resolution with the app token alone, and the toolkit delete and restore without a user where none came', () => {
    const by = (mode: string) =>
      declared(OPERATIONS)
        .filter((op) => op.auth === mode)
        .map((op) => op.name)
        .sort();
    expect(by('appOnly')).toEqual(['EndpointResolution_Resolve', 'EndpointResolution_ResolveEndpoint']);
    expect(by('subjectOptional')).toEqual(['ItemLifecycle_OnDeleteItem', 'ItemLifecycle_OnRestoreItem']);
  });
});
