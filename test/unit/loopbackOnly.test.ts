/**
 * dev/loopbackOnly.ts, in a fresh process: a sentinel installed under it
 * records every connect that gets past the guard and stops any that is not
 * loopback, so this test itself can never reach another address.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../dev/projectRoot';

const GUARD = join(PROJECT_ROOT, 'dist', 'dev', 'loopbackOnly.js');

const PROBE = `
const net = require('net');
const real = net.Socket.prototype.connect;
const reached = [];
net.Socket.prototype.connect = function (...args) {
  const a = Array.isArray(args[0]) ? args[0] : args;
  const o = typeof a[0] === 'object' ? a[0] : { port: a[0], host: a[1] };
  reached.push(String(o.host));
  if (!String(o.host).startsWith('127.')) { process.nextTick(() => this.destroy(new Error('stopped by the sentinel'))); return this; }
  return real.apply(this, args);
};
require(${JSON.stringify(GUARD)});
const http = require('http'), https = require('https'), tls = require('tls');
const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1', () => {
  const errors = [];
  const tries = [
    (done) => http.request({ host: '169.254.169.254', port: 80, path: '/metadata/instance', timeout: 500 }).on('error', (e) => done(e.message)).end(),
    (done) => https.request('https://westus-0.in.applicationinsights.azure.com/v2.1/track', { method: 'POST' }).on('error', (e) => done(e.message)).end(),
    (done) => net.connect(443, '192.0.2.1').on('error', (e) => done(e.message)),
    (done) => tls.connect({ host: '192.0.2.1', port: 443 }).on('error', (e) => done(e.message)),
    (done) => net.connect(server.address().port, '127.0.0.1').on('connect', () => done('loopback connected')).on('error', (e) => done(e.message)),
  ];
  let left = tries.length;
  for (const t of tries) t((m) => { errors.push(m); if (--left === 0) { console.log(JSON.stringify({ reached, errors })); process.exit(0); } });
});
`;

describe('loopbackOnly', () => {
  it('refuses every connection off loopback before a socket is opened, and lets loopback through', () => {
    const run = spawnSync(process.execPath, ['-e', PROBE], { encoding: 'utf8', timeout: 15_000 });
    expect(run.status, run.stderr).toBe(0);
    const { reached, errors } = JSON.parse(run.stdout) as { reached: string[]; errors: string[] };
    expect(reached).toEqual(['127.0.0.1']);
    expect(errors.sort()).toEqual(
      [
        'connect to 169.254.169.254 refused: this process may reach loopback only',
        'connect to westus-0.in.applicationinsights.azure.com refused: this process may reach loopback only',
        'connect to 192.0.2.1 refused: this process may reach loopback only',
        'connect to 192.0.2.1 refused: this process may reach loopback only',
        'loopback connected',
      ].sort(),
    );
  });
});
