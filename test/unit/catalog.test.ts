import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../src/functions/catalog';
import { SWAGGER_PATH } from '../fixtures/contractSchema';

describe('the catalog', () => {
  it("declares every operation of the contract, with the contract's method and path, and nothing else", () => {
    const swagger = JSON.parse(readFileSync(SWAGGER_PATH, 'utf8')) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const contract = Object.entries(swagger.paths)
      .flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([, op]) => op.operationId)
          .map(([method, op]) => `${op.operationId} ${method.toUpperCase()} /${path.replace(/^\//, '')}`),
      )
      .sort();
    const served = OPERATIONS.map((declare) => declare({} as never))
      .map((op) => `${op.name} ${op.method} /${op.route}`)
      .sort();
    expect(contract).toHaveLength(8);
    expect(served).toEqual(contract);
  });

  it('authenticates only endpoint resolution with the app token alone', () => {
    const appOnly = OPERATIONS.map((declare) => declare({} as never))
      .filter((op) => op.auth === 'appOnly')
      .map((op) => op.name);
    expect(appOnly).toEqual(['EndpointResolution_Resolve']);
  });
});
