// Client failures as one line each that says what happened and what to do next:
// an unreachable server, a TLS failure, a timeout, a 403, a 404.
import { isKesError } from '@kes/core';
import { CliFailure } from '../internal/failure.js';

/** What a command is about, so that a 404 can name it. */
export interface Subject {
  readonly kind: 'key' | 'policy' | 'identity';
  readonly name: string;
}

/** Facts about the connection that a message may mention. */
export interface ExplainContext {
  readonly endpoints: readonly string[];
  readonly identity: string | undefined;
  readonly insecure: boolean;
  readonly subject?: Subject;
}

/** The `code` of a `KesClientError` (matched by shape, so that duplicate installs match too). */
type ClientErrorCode =
  | 'ERR_KES_CLIENT_UNREACHABLE'
  | 'ERR_KES_CLIENT_TLS'
  | 'ERR_KES_CLIENT_TIMEOUT'
  | 'ERR_KES_CLIENT_HTTP'
  | 'ERR_KES_CLIENT_PROTOCOL'
  | 'ERR_KES_CLIENT_CLOSED';
const CLIENT_CODES: ReadonlySet<string> = new Set<ClientErrorCode>([
  'ERR_KES_CLIENT_UNREACHABLE',
  'ERR_KES_CLIENT_TLS',
  'ERR_KES_CLIENT_TIMEOUT',
  'ERR_KES_CLIENT_HTTP',
  'ERR_KES_CLIENT_PROTOCOL',
  'ERR_KES_CLIENT_CLOSED',
]);

function clientErrorCode(err: unknown): ClientErrorCode | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && CLIENT_CODES.has(code) ? (code as ClientErrorCode) : undefined;
}

/** Every `code` along the `cause` chain (socket and TLS error codes live down there). */
function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (e instanceof AggregateError) for (const inner of e.errors) codes.push(...causeCodes(inner));
    e = e.cause;
  }
  return codes;
}

const SOCKET_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
};

const TLS_REASONS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chain ends in an untrusted self-signed CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its certificate is signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'its certificate is signed by an unknown CA',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate does not name this host',
};

function where(ctx: ExplainContext): string {
  return ctx.endpoints.length === 1 ? (ctx.endpoints[0] ?? '') : ctx.endpoints.join(', ');
}

function subjectText(ctx: ExplainContext, kind: Subject['kind']): string {
  return ctx.subject?.kind === kind ? `${kind} '${ctx.subject.name}'` : kind;
}

/**
 * The failure to print for `err`, or `err` itself when it is not a client or server
 * error (a bug: the caller's error handler prints its stack).
 */
export function explainError(err: unknown, ctx: ExplainContext): unknown {
  const clientCode = clientErrorCode(err);
  const codes = causeCodes(err);
  const endpoint = (err as { endpoint?: unknown } | undefined)?.endpoint;
  const at = typeof endpoint === 'string' && endpoint !== '' ? endpoint : where(ctx);
  switch (clientCode) {
    case 'ERR_KES_CLIENT_UNREACHABLE': {
      const reason = codes.map((c) => SOCKET_REASONS[c]).find((r) => r !== undefined) ?? (err as Error).message;
      return new CliFailure(`cannot reach a KES server at ${at} (${reason}): start it, or set its address with --server or KES_SERVER`, {
        cause: err,
      });
    }
    case 'ERR_KES_CLIENT_TLS': {
      const tls = codes.map((c) => TLS_REASONS[c]).find((r) => r !== undefined);
      if (tls === TLS_REASONS.ERR_TLS_CERT_ALTNAME_INVALID) {
        return new CliFailure(
          `TLS with ${at} failed: ${tls}: use a host name or IP address from the server's certificate in --server/KES_SERVER (or -k/--insecure for a test server)`,
          { cause: err },
        );
      }
      if (tls !== undefined) {
        return new CliFailure(
          `TLS with ${at} failed: ${tls}: pass the CA certificate that signed it with --ca FILE (or -k/--insecure for a test server such as 'kes server --dev')`,
          { cause: err },
        );
      }
      return new CliFailure(
        `TLS with ${at} failed (${(err as Error).message}): check that the server accepts this client certificate or API key, and --ca`,
        { cause: err },
      );
    }
    case 'ERR_KES_CLIENT_TIMEOUT':
      return new CliFailure(`no answer from ${at} in time: the server or its key store may be overloaded or stuck; try again later`, { cause: err });
    case 'ERR_KES_CLIENT_HTTP': {
      const status = (err as { status?: unknown }).status;
      const code = typeof status === 'number' && status > 0 ? `HTTP ${status}` : 'an error';
      return new CliFailure(`${at} answered with ${code} (${(err as Error).message}): is this a KES server? Check --server/KES_SERVER`, {
        cause: err,
      });
    }
    case 'ERR_KES_CLIENT_PROTOCOL':
      return new CliFailure(`${at} sent a reply this client does not understand (${(err as Error).message}): is this a KES server?`, { cause: err });
    case 'ERR_KES_CLIENT_CLOSED':
      return err;
    default:
      break;
  }
  if (!isKesError(err)) return err;
  switch (err.code) {
    case 'ERR_KES_NOT_ALLOWED':
      return new CliFailure(
        `${err.message}${ctx.identity ? ` (identity ${ctx.identity})` : ''}: use the admin's API key, or ask for a policy that allows this (see 'kes identity info')`,
        { cause: err },
      );
    case 'ERR_KES_KEY_NOT_FOUND':
      return new CliFailure(`${subjectText(ctx, 'key')} does not exist: list the keys with 'kes key ls'`, { cause: err });
    case 'ERR_KES_POLICY_NOT_FOUND':
      return new CliFailure(`${subjectText(ctx, 'policy')} does not exist: list the policies with 'kes policy ls'`, { cause: err });
    case 'ERR_KES_IDENTITY_NOT_FOUND':
      return new CliFailure(`${subjectText(ctx, 'identity')} does not exist (no policy is assigned to it): list identities with 'kes identity ls'`, {
        cause: err,
      });
    case 'ERR_KES_KEY_EXISTS':
      return new CliFailure(`${subjectText(ctx, 'key')} already exists: choose another name`, { cause: err });
    case 'ERR_KES_DECRYPT':
      return new CliFailure(`${err.message} (wrong key, ciphertext or context)`, { cause: err });
    case 'ERR_KES_KEYSTORE_UNREACHABLE':
    case 'ERR_KES_KEYSTORE_UNAVAILABLE':
      return new CliFailure(`${err.message}: the server cannot use its key store; see the server's error log ('kes log --error')`, { cause: err });
    default:
      return new CliFailure(err.message, { cause: err });
  }
}
