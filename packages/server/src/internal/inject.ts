/**
 * Socket-less request/response objects for `KesHandler.inject()`. They provide the
 * structural subset of `IncomingMessage`/`ServerResponse` the pipeline uses, so an
 * injected request runs through exactly the same code as a real one.
 */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';

/** The request side: a readable body plus method, url and headers. */
export class FakeRequest extends Readable {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly headersDistinct: Record<string, string[]>;
  readonly httpVersion = '1.1';
  #body: Buffer | undefined;

  constructor(method: string, url: string, headers: Record<string, string | readonly string[]>, body: Buffer | undefined) {
    super();
    this.method = method.toUpperCase();
    this.url = url;
    this.headers = {};
    this.headersDistinct = {};
    for (const [k, v] of Object.entries(headers)) {
      const name = k.toLowerCase();
      const values = typeof v === 'string' ? [v] : [...v];
      this.headersDistinct[name] = values;
      this.headers[name] = values.join(', ');
    }
    if (body !== undefined && this.headers['content-length'] === undefined && this.headers['transfer-encoding'] === undefined) {
      this.headers['content-length'] = String(body.length);
      this.headersDistinct['content-length'] = [String(body.length)];
    }
    this.#body = body;
  }

  override _read(): void {
    const b = this.#body;
    this.#body = undefined;
    if (b !== undefined && b.length > 0) {
      // Deliver in 64 KiB chunks like a socket would, so body limits are exercised realistically.
      for (let i = 0; i < b.length; i += 65536) this.push(b.subarray(i, i + 65536));
    }
    this.push(null);
  }
}

/** The response side: records status, headers and body; resolves `done` when finished. */
export class FakeResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  readonly writableLength = 0;
  readonly #headers: Record<string, string> = {};
  readonly #chunks: Buffer[] = [];
  readonly done: Promise<'ended' | 'destroyed' | 'disconnected'>;
  #settle!: (how: 'ended' | 'destroyed' | 'disconnected') => void;

  constructor() {
    super();
    this.done = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  setHeader(name: string, value: string | number | readonly string[]): this {
    this.#headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.#headers[name.toLowerCase()];
  }

  hasHeader(name: string): boolean {
    return name.toLowerCase() in this.#headers;
  }

  removeHeader(name: string): void {
    delete this.#headers[name.toLowerCase()];
  }

  writeHead(status: number, headers?: Record<string, string | number | readonly string[]>): this {
    this.statusCode = status;
    if (headers) for (const [k, v] of Object.entries(headers)) this.setHeader(k, v);
    this.headersSent = true;
    return this;
  }

  flushHeaders(): void {
    this.headersSent = true;
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.writableEnded || this.destroyed) return false;
    this.headersSent = true;
    this.#chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    this.emit('data');
    return true;
  }

  end(chunk?: string | Uint8Array | (() => void)): this {
    if (this.writableEnded || this.destroyed) return this;
    if (chunk !== undefined && typeof chunk !== 'function') this.write(chunk);
    this.headersSent = true;
    this.writableEnded = true;
    this.writableFinished = true;
    this.#settle('ended');
    this.emit('finish');
    this.emit('close');
    return this;
  }

  destroy(): this {
    if (this.destroyed || this.writableEnded) return this;
    this.destroyed = true;
    this.#settle('destroyed');
    this.emit('close');
    return this;
  }

  /** The client went away (the inject signal fired). */
  disconnect(): void {
    if (this.destroyed || this.writableEnded) return;
    this.destroyed = true;
    this.#settle('disconnected');
    this.emit('close');
  }

  get headers(): Record<string, string> {
    return { ...this.#headers };
  }

  get body(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}
