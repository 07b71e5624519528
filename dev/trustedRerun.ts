/**
 * Node reads NODE_EXTRA_CA_CERTS only when a process starts. A development
 * program that calls the stack's loopback HTTPS services from its own
 * process (npm start's local host, npm run bench's in-process operations,
 * both through MSAL) and was started without the development certificate
 * trusted runs itself again, once, as a child whose environment names it.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { trustEnv, type DevTls } from './devTls';

/** Set in the child's environment: a second run that still does not trust the certificate fails instead of looping. */
export const RERUN_MARK = 'FABRIC_DEV_START_TRUSTING';

/**
 * Runs `script` with `args` again as a child that trusts the certificate, and
 * lives as long as it does. Signals are passed on (the child stops everything
 * it started), and so is its exit code. `name` prefixes what it prints.
 */
export function runAgainTrusting(tls: DevTls, script: string, args: string[], name: string): void {
  if (process.env[RERUN_MARK])
    throw new Error(`NODE_EXTRA_CA_CERTS (${process.env.NODE_EXTRA_CA_CERTS}) does not name ${tls.certFile}`);
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    stdio: 'inherit',
    env: { ...process.env, ...trustEnv(tls), [RERUN_MARK]: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  // As in the child: when npm goes away without a signal reaching us, stop it too.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && child.kill('SIGTERM'), 1000).unref();
  child.once('error', (error) => {
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
}
