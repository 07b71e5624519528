/**
 * Required first (node --require) into a process that runs third-party code
 * able to call out on its own: every TCP connection to anything but this
 * machine's loopback fails before a socket is opened, with an error the
 * caller sees like any connection failure. The benchmark's telemetry
 * distribution probes Azure's instance metadata address (169.254.169.254) and
 * Microsoft's endpoints by itself; nothing here may leave the machine.
 */
import { isIP, Socket } from 'node:net';

const LOOPBACK_NAMES = new Set(['localhost', '::1', '[::1]']);

export function isLoopbackTarget(host: string): boolean {
  if (LOOPBACK_NAMES.has(host.toLowerCase())) return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * The host a Socket#connect call names (the forms of net.connect), or
 * undefined for a Unix socket or pipe. An options object with a port or a
 * host is TCP whatever else it holds: the http module passes its request
 * options, URL `path` included.
 */
function targetHost(args: unknown[]): string | undefined {
  const [first, second] = args;
  if (Array.isArray(first)) return targetHost(first); // the normalized [options, callback] net.connect passes
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: unknown; port?: unknown; path?: unknown };
    if (options.host === undefined && options.port === undefined && options.path !== undefined) return undefined;
    return typeof options.host === 'string'
      ? options.host
      : options.host === undefined
        ? 'localhost'
        : String(options.host);
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return undefined; // a path
  return typeof second === 'string' ? second : 'localhost';
}

const connect = Socket.prototype.connect;
Socket.prototype.connect = function guardedConnect(this: Socket, ...args: unknown[]): Socket {
  const host = targetHost(args);
  if (host !== undefined && !isLoopbackTarget(host)) {
    process.nextTick(() =>
      this.destroy(
        Object.assign(new Error(`connect to ${host} refused: this process may reach loopback only`), {
          code: 'ECONNREFUSED',
        }),
      ),
    );
    return this;
  }
  return (connect as (...a: unknown[]) => Socket).apply(this, args);
} as typeof Socket.prototype.connect;
