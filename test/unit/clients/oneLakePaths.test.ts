import { describe, expect, it } from 'vitest';
import {
  checkOneLakeEndpoint,
  checkOneLakePath,
  MAX_ONELAKE_PATH_LENGTH,
  oneLakePathProblem,
} from '../../../src/clients/oneLakePaths';

describe('oneLakePathProblem', () => {
  it('takes relative paths under Files/ or Tables/', () => {
    for (const path of [
      'Files/x.json',
      'Files/forecasts/63f77191-432d-4ee6-9c5f-31a1a6987072.json',
      'Tables/sales/_delta_log/00000000000000000000.json',
      'Files/with space/and ünïcödé/😀.txt',
      'Files/.hidden',
      'Files/a..b',
      'Files/...',
      `Files/${'x'.repeat(MAX_ONELAKE_PATH_LENGTH - 'Files/'.length)}`,
    ]) {
      expect(oneLakePathProblem(path), path).toBeUndefined();
    }
  });

  it.each([
    ['', 'is empty'],
    ['Files', 'names a root folder, not a file'],
    ['Tables', 'names a root folder, not a file'],
    ['Files/', 'has an empty segment'],
    ['Files/a/', 'has an empty segment'],
    ['Files//a', 'has an empty segment'],
    ['/Files/a', 'is not relative'],
    ['Other/a', 'does not start with Files/ or Tables/'],
    ['files/a', 'does not start with Files/ or Tables/'],
    ['./Files/a', 'does not start with Files/ or Tables/'],
    ['Files/./a', 'has a . or .. segment'],
    ['Files/../Tables/a', 'has a . or .. segment'],
    ['Files/a/..', 'has a . or .. segment'],
    ['Files/a\\b', 'contains a backslash'],
    ['Files\\a', 'contains a backslash'],
    ['Files/a\u0000', 'contains a control character'],
    ['Files/a\rb', 'contains a control character'],
    ['Files/a\u007f', 'contains a control character'],
    ['Files/\ud83d', 'contains a lone UTF-16 surrogate'],
    ['Files/\ude00x', 'contains a lone UTF-16 surrogate'],
    [`Files/${'x'.repeat(MAX_ONELAKE_PATH_LENGTH - 'Files/'.length + 1)}`, 'is longer than 1024 characters'],
  ])('refuses %j: %s', (path, problem) => {
    expect(oneLakePathProblem(path)).toBe(problem);
  });

  it('refuses what is not a string', () => {
    for (const value of [undefined, null, 1, ['Files/a'], { toString: () => 'Files/a' }]) {
      expect(oneLakePathProblem(value)).toBe('is not a string');
    }
  });

  it("takes a listing's prefix with a final / or without, and a root folder with one", () => {
    for (const prefix of ['Files/', 'Tables/', 'Files/forecasts/', 'Files/fore', 'Files/a/b']) {
      expect(oneLakePathProblem(prefix, true), prefix).toBeUndefined();
    }
    for (const prefix of ['', 'Files', 'Files//', 'Files/a//', '/Files/', '../', 'Files/../', 'Other/']) {
      expect(oneLakePathProblem(prefix, true), prefix).toBeDefined();
    }
  });
});

describe('checkOneLakePath', () => {
  it('answers the path, or throws a TypeError that quotes it escaped and cut', () => {
    expect(checkOneLakePath('Files/a.txt')).toBe('Files/a.txt');
    expect(() => checkOneLakePath('Files/../a')).toThrow(
      new TypeError('The OneLake path "Files/../a" has a . or .. segment.'),
    );
    const long = `Files/${'y'.repeat(2000)}\n`;
    let message = '';
    try {
      checkOneLakePath(long);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.length).toBeLessThan(200);
    expect(message).not.toContain('\n');
  });
});

describe('checkOneLakeEndpoint', () => {
  it('answers an https endpoint without its trailing slash; a path only on loopback', () => {
    expect(checkOneLakeEndpoint('https://onelake.blob.fabric.microsoft.com')).toBe(
      'https://onelake.blob.fabric.microsoft.com',
    );
    expect(checkOneLakeEndpoint('https://westus-onelake.blob.fabric.microsoft.com/')).toBe(
      'https://westus-onelake.blob.fabric.microsoft.com',
    );
    expect(checkOneLakeEndpoint('https://127.0.0.1:10003/onelake/')).toBe('https://127.0.0.1:10003/onelake');
    expect(checkOneLakeEndpoint('https://localhost:10003/onelake')).toBe('https://localhost:10003/onelake');
  });

  it.each([
    ['onelake.blob.fabric.microsoft.com', 'is not a URL'],
    ['http://onelake.blob.fabric.microsoft.com', 'is not https'],
    ['http://127.0.0.1:10000/onelake', 'is not https'],
    ['https://onelake.blob.fabric.microsoft.com/workspace', 'has a path (only a loopback stand-in may)'],
    ['https://onelake.blob.fabric.microsoft.com/?sv=x&sig=y', 'has credentials, a query or a fragment'],
    ['https://onelake.blob.fabric.microsoft.com/?', 'has credentials, a query or a fragment'],
    ['https://onelake.blob.fabric.microsoft.com#x', 'has credentials, a query or a fragment'],
    ['https://me:secret@onelake.blob.fabric.microsoft.com', 'has credentials, a query or a fragment'],
  ])('refuses %s: %s', (endpoint, problem) => {
    expect(() => checkOneLakeEndpoint(endpoint)).toThrow(problem);
  });
});
