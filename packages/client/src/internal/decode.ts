/**
 * Reading reply bodies: JSON objects with checked field types, strict base64, RFC 3339
 * times, ND-JSON lines. A reply that does not have the shape the API defines becomes
 * `ERR_KES_CLIENT_PROTOCOL`, naming the field (never its value: it may be key material).
 */
import { parseAlgorithm } from '@kes/core';
import { decodeBase64Strict, parseTimestamp } from '@kes/core/wire';
import { KesClientError } from '../errors.js';
import type { AuditEvent, ErrorEvent, Policy } from '../types.js';

/** Where a reply came from and what it was, for error messages. */
export interface ReplyContext {
  readonly endpoint: string;
  /** e.g. `GET /v1/status` */
  readonly what: string;
}

export function protocolError(ctx: ReplyContext, detail: string, cause?: unknown): KesClientError {
  return new KesClientError('ERR_KES_CLIENT_PROTOCOL', `${ctx.endpoint} sent an invalid reply to ${ctx.what}: ${detail} — is this a KES server?`, {
    endpoint: ctx.endpoint,
    status: 200,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** The reply body as a JSON object. */
export function jsonObject(ctx: ReplyContext, body: Buffer): Record<string, unknown> {
  const value = jsonValue(ctx, body.toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw protocolError(ctx, 'expected a JSON object');
  return value as Record<string, unknown>;
}

export function jsonValue(ctx: ReplyContext, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw protocolError(ctx, 'the body is not JSON', e);
  }
}

export function str(ctx: ReplyContext, o: Record<string, unknown>, field: string, required = true): string {
  const v = o[field];
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) {
    if (required) throw protocolError(ctx, `field '${field}' is missing`);
    return '';
  }
  throw protocolError(ctx, `field '${field}' is not a string`);
}

export function num(ctx: ReplyContext, o: Record<string, unknown>, field: string): number | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw protocolError(ctx, `field '${field}' is not a number`);
}

export function bool(ctx: ReplyContext, o: Record<string, unknown>, field: string): boolean | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  throw protocolError(ctx, `field '${field}' is not a boolean`);
}

/**
 * A key version field: decimal text (`"2"`), as kes-ts sends it. Absent (or `''`) gives
 * `undefined` unless `required`; a number or any other text is a protocol error.
 */
export function keyVersion(ctx: ReplyContext, o: Record<string, unknown>, field: string, required: true): string;
export function keyVersion(ctx: ReplyContext, o: Record<string, unknown>, field: string, required?: false): string | undefined;
export function keyVersion(ctx: ReplyContext, o: Record<string, unknown>, field: string, required = false): string | undefined {
  const v = str(ctx, o, field, required);
  if (v === '') {
    if (required) throw protocolError(ctx, `field '${field}' is missing`);
    return undefined;
  }
  if (!/^[0-9]{1,10}$/.test(v)) throw protocolError(ctx, `field '${field}' is not a key version`);
  return v;
}

/** A base64 byte field (Go `[]byte`): standard, padded base64. */
export function bytes(ctx: ReplyContext, o: Record<string, unknown>, field: string): Uint8Array {
  const v = str(ctx, o, field);
  try {
    return new Uint8Array(decodeBase64Strict(v));
  } catch (e) {
    throw protocolError(ctx, `field '${field}' is not valid base64`, e);
  }
}

/** An RFC 3339 time as a `Date` (millisecond precision), or the text itself if it is not RFC 3339. */
export function time(value: unknown): Date | string {
  if (typeof value !== 'string') return '';
  try {
    const t = parseTimestamp(value);
    return new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6));
  } catch {
    return value;
  }
}

/** A key algorithm, with older servers' names normalised. */
export function algorithm(value: string): string {
  return parseAlgorithm(value) ?? value;
}

/** Policy patterns: current servers send `{"pattern":{}}` objects, v0.22 sent arrays. */
function patterns(ctx: ReplyContext, value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    if (!value.every((p) => typeof p === 'string')) throw protocolError(ctx, `field '${field}' is not a list of patterns`);
    return [...(value as string[])];
  }
  if (typeof value === 'object') return Object.keys(value as object);
  throw protocolError(ctx, `field '${field}' is not a set of patterns`);
}

/** A policy object (`/v1/policy/read`, and inline in `/v1/identity/self/describe`). */
export function policy(ctx: ReplyContext, o: Record<string, unknown>, fallbackName = ''): Policy {
  return {
    name: str(ctx, o, 'name', false) || fallbackName,
    allow: patterns(ctx, o.allow, 'allow'),
    deny: patterns(ctx, o.deny, 'deny'),
    createdAt: time(o.created_at),
    createdBy: str(ctx, o, 'created_by', false),
  };
}

/** One page of a listing: current servers send one JSON object; v0.22 streamed ND-JSON lines. */
export function listPage(
  ctx: ReplyContext,
  contentType: string | undefined,
  body: Buffer,
  field: 'names' | 'identities',
): { names: string[]; continueAt: string } {
  if (contentType?.toLowerCase().includes('ndjson')) {
    const names: string[] = [];
    for (const line of body.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      const v = jsonValue(ctx, line);
      if (typeof v !== 'object' || v === null) throw protocolError(ctx, 'a line is not a JSON object');
      const o = v as Record<string, unknown>;
      if (typeof o.error === 'string') {
        throw new KesClientError('ERR_KES_CLIENT_HTTP', o.error, { endpoint: ctx.endpoint, status: 200 });
      }
      const name = typeof o.name === 'string' ? o.name : o.identity;
      if (typeof name !== 'string') throw protocolError(ctx, `a line has no '${field === 'names' ? 'name' : 'identity'}'`);
      names.push(name);
    }
    return { names, continueAt: '' };
  }
  const o = jsonObject(ctx, body);
  const list = o[field];
  if (list === null || list === undefined) return { names: [], continueAt: str(ctx, o, 'continue_at', false) };
  if (!Array.isArray(list) || !list.every((n) => typeof n === 'string')) throw protocolError(ctx, `field '${field}' is not a list of strings`);
  return { names: list as string[], continueAt: str(ctx, o, 'continue_at', false) };
}

/** An audit record; fields the server leaves out get empty values. */
export function auditEvent(ctx: ReplyContext, v: unknown): AuditEvent {
  if (typeof v !== 'object' || v === null) throw protocolError(ctx, 'an event is not a JSON object');
  const o = v as Record<string, unknown>;
  const req = (typeof o.request === 'object' && o.request !== null ? o.request : {}) as Record<string, unknown>;
  const res = (typeof o.response === 'object' && o.response !== null ? o.response : {}) as Record<string, unknown>;
  const request: AuditEvent['request'] = { path: str(ctx, req, 'path', false) };
  const ip = str(ctx, req, 'ip', false);
  const identity = str(ctx, req, 'identity', false);
  if (ip !== '') request.ip = ip;
  if (identity !== '') request.identity = identity;
  return {
    time: str(ctx, o, 'time', false),
    request,
    response: { code: num(ctx, res, 'code') ?? 0, time: num(ctx, res, 'time') ?? 0 },
  };
}

/** An error-log record. */
export function errorEvent(ctx: ReplyContext, v: unknown): ErrorEvent {
  if (typeof v !== 'object' || v === null) throw protocolError(ctx, 'an event is not a JSON object');
  return { message: str(ctx, v as Record<string, unknown>, 'message', false) };
}
