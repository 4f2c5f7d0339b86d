// A raw HTTP/1.1-over-TLS client for hostile-input tests: writes exactly the bytes it is
// given (malformed request lines, lying lengths, NUL, CR/LF) and reads one response at a
// time. Node's own client would refuse or normalise most of these. Test-only code.
import { connect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';

/** One response as read from the connection. */
export interface RawReply {
  readonly kind: 'reply';
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What came back for one request. */
export type RawOutcome = RawReply | { readonly kind: 'closed'; readonly text: string } | { readonly kind: 'timeout' };

/** Opens a TLS connection to 127.0.0.1:`port` (servername localhost). */
export function openTls(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * A keep-alive connection that reads responses one by one. Bytes that arrive after a
 * response are kept for the next; `alive` turns false when the server closes.
 */
export class RawConnection {
  readonly socket: TLSSocket;
  /** Set by callers: a request was sent on this connection before (keep-alive reuse). */
  used = false;
  reused = false;
  #buf: Buffer = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    const gone = (): void => {
      this.#closed = true;
      this.#wake?.();
    };
    socket.on('end', gone);
    socket.on('close', gone);
    socket.on('error', gone); // a reset after the reply is the server's right
  }

  static async open(port: number, options: ConnectionOptions): Promise<RawConnection> {
    return new RawConnection(await openTls(port, options));
  }

  get alive(): boolean {
    return !this.#closed && !this.socket.destroyed;
  }

  write(bytes: string | Buffer): void {
    if (this.alive) this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Reads the next response (1xx skipped). `head`: the request was HEAD (no body). A stream
   * (`application/x-ndjson`) counts as answered once its headers are in.
   */
  async read(head: boolean, timeoutMs: number): Promise<RawOutcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.#parse(head);
      if (parsed !== undefined) return parsed;
      if (this.#closed) return { kind: 'closed', text: this.#buf.toString('latin1') };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout' };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          this.#wake = undefined;
          resolve();
        };
      });
    }
  }

  #parse(head: boolean): RawReply | undefined {
    for (;;) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      if (status >= 100 && status < 200) {
        this.#buf = this.#buf.subarray(end + 4);
        continue;
      }
      const start = end + 4;
      if (head || status === 204 || status === 304 || headers['content-type'] === 'application/x-ndjson') {
        this.#buf = this.#buf.subarray(start);
        return { kind: 'reply', status, headers, body: '' };
      }
      const cl = headers['content-length'];
      if (cl !== undefined) {
        const n = Number(cl);
        if (this.#buf.length - start < n) return undefined;
        const body = this.#buf.subarray(start, start + n).toString('utf8');
        this.#buf = this.#buf.subarray(start + n);
        return { kind: 'reply', status, headers, body };
      }
      if (headers['transfer-encoding'] === 'chunked') {
        const body = dechunk(this.#buf.subarray(start));
        if (body === undefined) return undefined;
        this.#buf = this.#buf.subarray(start + body.consumed);
        return { kind: 'reply', status, headers, body: body.text };
      }
      // No length: the body runs to the end of the connection (Node's parser-error replies).
      if (!this.#closed) return undefined;
      const body = this.#buf.subarray(start).toString('utf8');
      this.#buf = Buffer.alloc(0);
      return { kind: 'reply', status, headers, body };
    }
  }
}

function dechunk(b: Buffer): { text: string; consumed: number } | undefined {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) return undefined;
    const size = Number.parseInt(b.subarray(i, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return { text: '', consumed: b.length };
    if (b.length < eol + 2 + size + 2) return undefined;
    if (size === 0) return { text: Buffer.concat(parts).toString('utf8'), consumed: eol + 4 };
    parts.push(b.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}
