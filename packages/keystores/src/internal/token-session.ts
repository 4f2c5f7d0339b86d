// The access-token cache every REST key store with a login uses: one login at a time
// shared by all callers, a fresh login when the token is stale (lazily) or at a
// planned time (a background timer, with a store-specific renewal first), one shared
// re-login when the service rejects a token, and a retry delay after a failed
// background renewal. What a login sends and how its answer is read stays in the store.

/** A token and when to replace it. */
export interface TokenLease {
  /** What callers get: a token, a JWT, an `Authorization` header value. */
  readonly token: string;
  /** `now()` from which `token()` logs in again before answering; Infinity: only when rejected. */
  readonly staleAt: number;
  /** Background renewal this many ms after the lease is adopted; undefined: none. */
  readonly renewInMs?: number | undefined;
}

export interface TokenSessionOptions<L extends TokenLease> {
  /** Logs in and resolves with a new lease. Errors reach the callers waiting for it. */
  readonly login: () => Promise<L>;
  /**
   * A background renewal that is not a login (e.g. Vault's renew-self). Resolves with
   * the renewed lease, or undefined to log in instead; `retry` is true after a failed
   * renewal. Default: always log in.
   */
  readonly renew?: ((lease: L, retry: boolean) => Promise<L | undefined>) | undefined;
  /** Delay before a failed background renewal is tried again (default 5 s). */
  readonly retryMs?: number | undefined;
  /** The clock of `staleAt` (default `performance.now`). */
  readonly now?: (() => number) | undefined;
  /** A lease to start with (a static token). */
  readonly initial?: L | undefined;
}

/** Hands out the current token; logs in lazily and keeps the token fresh. */
export class TokenSession<L extends TokenLease> {
  readonly #o: TokenSessionOptions<L>;
  readonly #now: () => number;
  #lease: L | undefined;
  #pending: Promise<L> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: TokenSessionOptions<L>) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#lease = options.initial;
  }

  /** The lease in use, if any. */
  get current(): L | undefined {
    return this.#lease;
  }

  /** The login on its way, if any. */
  get pending(): Promise<L> | undefined {
    return this.#pending;
  }

  /**
   * A token that is not stale, logging in first when there is none.
   * @throws what the login throws, or the signal's reason when it aborts (the shared login goes on).
   */
  async token(signal?: AbortSignal): Promise<string> {
    const lease = this.#lease;
    if (lease && this.#now() < lease.staleAt) return lease.token;
    return (await abortable(this.#login(), signal)).token;
  }

  /**
   * The service rejected `rejected`: logs in again (once, shared by every caller that
   * saw the same token fail) and returns the new token, or a newer one already in use.
   */
  async refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    const lease = this.#lease;
    if (lease && lease.token !== rejected && this.#now() < lease.staleAt) return lease.token;
    this.invalidate(rejected);
    return (await abortable(this.#login(), signal)).token;
  }

  /** Forgets `rejected`, unless a newer token has replaced it already. */
  invalidate(rejected: string): void {
    if (this.#lease?.token === rejected) this.#lease = undefined;
  }

  /** Forgets the current token, whatever it is (its audience changed). */
  forget(): void {
    this.#lease = undefined;
  }

  /** Stops renewal and forgets the token; logins after this are not cached. */
  close(): void {
    this.#closed = true;
    this.#lease = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #login(): Promise<L> {
    this.#pending ??= this.#o
      .login()
      .then((lease) => {
        this.#adopt(lease);
        return lease;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  #adopt(lease: L): void {
    if (this.#closed) return;
    this.#lease = lease;
    this.#schedule(lease, lease.renewInMs, false);
  }

  #schedule(lease: L, delayMs: number | undefined, retry: boolean): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed || delayMs === undefined) return;
    this.#timer = setTimeout(() => void this.#renew(lease, retry), delayMs);
    this.#timer.unref();
  }

  /** Background renewal: the store's renewal, else a login; on failure the old token stays (it may still be valid) and a retry follows. */
  async #renew(lease: L, retry: boolean): Promise<void> {
    this.#timer = undefined;
    if (this.#closed || this.#lease !== lease) return;
    if (this.#o.renew) {
      const renewed = await this.#o.renew(lease, retry).catch(() => undefined);
      if (this.#closed || this.#lease !== lease) return;
      if (renewed) {
        this.#adopt(renewed);
        return;
      }
    }
    try {
      await this.#login();
    } catch {
      // Refused or unanswered: a request that gets its token rejected meanwhile logs in by itself.
      if (this.#closed || this.#lease !== lease) return;
      this.#schedule(lease, this.#o.retryMs ?? 5_000, true);
    }
  }
}

/** Waits for `p`, or rejects with the signal's reason when it aborts first (`p` itself goes on). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
