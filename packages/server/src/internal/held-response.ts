/**
 * A reply held back until its audit record is written (`log.audit_file`): the handler
 * writes into this object instead of the socket, and the pipeline either releases it to
 * the real response or, when the record could not be written and the file is
 * fail-closed, sends 503 instead — so no key material leaves unaudited.
 *
 * Only what the non-streaming handlers and the reply writers in `http.ts` use exists here
 * (`writeHead`, `setHeader`, `end`, `headersSent`, `writableEnded`, `destroy`); routes
 * that stream (`RouteSpec.streams`) are never held.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { AnyResponse } from './http.js';

type Headers = OutgoingHttpHeaders | Record<string, string | number>;

/** The recorded reply. */
export class HeldResponse {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  #headers: Record<string, string | number | readonly string[]> = {};
  #body: string | Uint8Array | undefined;

  setHeader(name: string, value: string | number | readonly string[]): this {
    this.#headers[name] = value;
    return this;
  }

  writeHead(status: number, headers?: Headers): this {
    this.statusCode = status;
    if (headers) {
      for (const [k, v] of Object.entries(headers)) if (v !== undefined) this.#headers[k] = v as string | number | readonly string[];
    }
    this.headersSent = true;
    return this;
  }

  write(): boolean {
    // A streaming handler on a held response is a programming error (mark the route `streams`).
    throw new Error('held response: streaming routes must set RouteSpec.streams');
  }

  end(body?: string | Uint8Array): this {
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.#body = body;
    this.writableEnded = true;
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    return this;
  }

  /** Clears the recorded body (it may hold key material that will not be sent). */
  discard(): void {
    if (this.#body instanceof Uint8Array) this.#body.fill(0);
    this.#body = undefined;
  }

  /** Sends the recorded reply on `res` (nothing if the handler produced none or `res` is gone). */
  release(res: AnyResponse): void {
    const r = res as unknown as {
      destroyed?: boolean;
      writableEnded?: boolean;
      writeHead(s: number, h: object): void;
      end(b?: string | Uint8Array): void;
    };
    if (!this.writableEnded || this.destroyed || r.destroyed || r.writableEnded) return;
    r.writeHead(this.statusCode, this.#headers);
    r.end(this.#body);
    this.#body = undefined;
  }
}
