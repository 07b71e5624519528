import { describe, expect, it } from 'vitest';
import { fabricPathProblem, resolvePath } from '../../../src/clients/fabricApi';

const BASE = new URL('https://api.fabric.microsoft.com/v1');

describe('fabricPathProblem', () => {
  it('takes paths relative to the base URL, with a query', () => {
    for (const path of [
      '/workspaces',
      '/workspaces/e5ef604d-e14f-4a59-9133-75d5a0cb9334/items/b14cb7e7-d346-4751-9cfd-8c2767d53111',
      '/workspaces/x/items?type=Lakehouse&continuationToken=a%2Fb',
      '/workspaces/x/items/y/jobs/instances?jobType=Pipeline',
      '/a..b/.c',
    ]) {
      expect(fabricPathProblem(path), path).toBeUndefined();
    }
  });

  it.each([
    ['workspaces', 'does not start with /'],
    ['', 'does not start with /'],
    ['https://evil.example/v1', 'does not start with /'],
    ['//evil.example/v1', 'names a host'],
    ['/a/../b', 'has a . or .. segment'],
    ['/a/%2e%2e/b', 'has a . or .. segment'],
    ['/a/%2E./b', 'has a . or .. segment'],
    ['/a/./b', 'has a . or .. segment'],
    ['/..', 'has a . or .. segment'],
    ['/a\\b', 'contains a backslash, #, a space or a control character'],
    ['/a#b', 'contains a backslash, #, a space or a control character'],
    ['/a b', 'contains a backslash, #, a space or a control character'],
    ['/a\tb', 'contains a backslash, #, a space or a control character'],
  ])('refuses %j: %s', (path, problem) => {
    expect(fabricPathProblem(path)).toBe(problem);
  });
});

describe('resolvePath', () => {
  it('puts the path under the base URL', () => {
    expect(resolvePath(BASE, '/workspaces/x/items')).toBe('https://api.fabric.microsoft.com/v1/workspaces/x/items');
    expect(resolvePath(new URL('https://127.0.0.1:4443/v1'), '/a?b=c')).toBe('https://127.0.0.1:4443/v1/a?b=c');
  });

  it('throws a TypeError for a bad path', () => {
    expect(() => resolvePath(BASE, '/../admin')).toThrow(TypeError);
    expect(() => resolvePath(BASE, '//evil.example')).toThrow(TypeError);
  });
});
