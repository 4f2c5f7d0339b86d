// The listen address of `kes server`: `--addr` and `--port` over the file's `address`.
import { joinHostPort, splitHostPort } from '@kes/server';
import type { ServerArgs } from '../commands/server.js';
import { checkAddress } from '../config/sections/document.js';
import { UsageError } from '../internal/usage-error.js';

/** The port when neither the file nor a flag names one. */
export const DEFAULT_PORT = 7373;

/**
 * The listen address: `--addr` (host, or host:port) wins over the file's `address`;
 * `--port` replaces the port. `--addr` with a port and a different `--port` conflict.
 *
 * @throws UsageError for conflicting ports or an address that is not `[IP]:PORT`.
 * @example
 * resolveListenAddress({ port: 9000 }, '127.0.0.1:7000', '0.0.0.0'); // '127.0.0.1:9000'
 */
export function resolveListenAddress(args: Pick<ServerArgs, 'addr' | 'port'>, fileAddress: string | undefined, fallbackHost: string): string {
  let host = fallbackHost;
  let port: number | undefined;
  if (fileAddress !== undefined) ({ host, port } = splitHostPort(fileAddress));
  if (args.addr !== undefined) {
    const a = splitHostPort(args.addr.trim());
    if (a.port !== undefined && Number.isNaN(a.port)) throw new UsageError(`--addr '${args.addr}' is not a listen address of the form [IP]:PORT`);
    if (a.port !== undefined && args.port !== undefined && a.port !== args.port) {
      throw new UsageError(`conflicting ports: --addr ${args.addr} and --port ${args.port} (give the port once)`);
    }
    host = a.host;
    port = a.port ?? port;
  }
  if (args.port !== undefined) port = args.port;
  const address = joinHostPort(host, port ?? DEFAULT_PORT);
  const why = checkAddress(address);
  if (why) throw new UsageError(`listen address: ${why}`);
  return address;
}
