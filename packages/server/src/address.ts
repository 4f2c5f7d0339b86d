/**
 * `[host]:port` handling: the one place listen addresses are split and joined
 * (the server's `address` option, the CLI's `--addr`/`--port` and config file).
 */

/** `Number` of an all-digit port, `NaN` for anything else (empty, sign, letters). */
function parsePort(text: string): number {
  return /^\d+$/.test(text) ? Number(text) : Number.NaN;
}

/**
 * Splits a listen address into host and port. Accepts `[v6]:port`, `[v6]`, `host:port`,
 * `:port`, `host` and a bare IPv6 literal (`::1`, which has no port). `port` is
 * `undefined` when the address has none and `NaN` when it is not a decimal number;
 * the range (0–65535) is the caller's to check.
 *
 * @example
 * splitHostPort('[::1]:7373'); // { host: '::1', port: 7373 }
 * splitHostPort(':7373');      // { host: '', port: 7373 }
 * splitHostPort('::1');        // { host: '::1', port: undefined }
 * splitHostPort('host:x');     // { host: 'host', port: NaN }
 */
export function splitHostPort(address: string): { host: string; port: number | undefined } {
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    // An unterminated bracket or text between `]` and `:` is no address: report a bad port.
    if (end < 0) return { host: address, port: Number.NaN };
    const host = address.slice(1, end);
    if (end === address.length - 1) return { host, port: undefined };
    if (address[end + 1] !== ':') return { host, port: Number.NaN };
    return { host, port: parsePort(address.slice(end + 2)) };
  }
  const i = address.indexOf(':');
  if (i < 0) return { host: address, port: undefined };
  // More than one colon without brackets: a bare IPv6 literal.
  if (address.indexOf(':', i + 1) >= 0) return { host: address, port: undefined };
  return { host: address.slice(0, i), port: parsePort(address.slice(i + 1)) };
}

/**
 * Joins a host and a port; an IPv6 host is put in brackets.
 *
 * @example
 * joinHostPort('::1', 7373);     // '[::1]:7373'
 * joinHostPort('0.0.0.0', 7373); // '0.0.0.0:7373'
 */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
