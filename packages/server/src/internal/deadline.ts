/**
 * Route timeouts without a timer and an AbortController per request.
 *
 * Requests with the same timeout expire in the order they started, so each timeout
 * value keeps a FIFO queue and one shared timer is armed for the earliest live
 * deadline. Finishing a request only flips a flag; finished entries are dropped
 * when they reach the head of their queue. The AbortSignal a handler may pass to
 * the key store is created only when a handler actually asks for it.
 */

/** What expiring a deadline does: mark the request, abort its signal, tear the response down. */
export class RouteDeadline {
  /** `performance.now()` value at which the request times out. */
  readonly at: number;
  /** Set when the deadline fired before `finish()`. */
  timedOut = false;
  /** Set by `finish()`; a finished deadline never fires. */
  finished = false;
  readonly #res: { readonly writableEnded?: boolean; destroy(): void };
  #controller: AbortController | undefined;

  constructor(at: number, res: { readonly writableEnded?: boolean; destroy(): void }) {
    this.at = at;
    this.#res = res;
  }

  /** Aborted when the route timeout fires. Created on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.timedOut) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** The request completed: the deadline must not fire any more. */
  finish(): void {
    this.finished = true;
  }

  /** Called by the queue once `at` has passed. */
  expire(): void {
    if (this.finished || this.timedOut) return;
    this.timedOut = true;
    this.#controller?.abort();
    // Like upstream: the response is torn down without a status.
    if (!this.#res.writableEnded) this.#res.destroy();
  }
}

/** FIFO of deadlines that share one timeout value (so `at` never decreases along it). */
interface Lane {
  items: RouteDeadline[];
  head: number;
}

/** The shared timer behind every route deadline of one handler. */
export class DeadlineQueue {
  readonly #lanes = new Map<number, Lane>();
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (`performance.now()` scale); Infinity when none. */
  #timerAt = Infinity;
  /** Deadlines neither finished nor expired: the timer keeps the process alive only while > 0. */
  #live = 0;

  /** Starts a deadline `timeoutMs` from now for a request answered on `res`. */
  start(timeoutMs: number, res: { readonly writableEnded?: boolean; destroy(): void }): RouteDeadline {
    const d = new RouteDeadline(performance.now() + timeoutMs, res);
    let lane = this.#lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = { items: [], head: 0 };
      this.#lanes.set(timeoutMs, lane);
    }
    lane.items.push(d);
    if (this.#live++ === 0) this.#timer?.ref();
    if (d.at < this.#timerAt) this.#arm(d.at);
    return d;
  }

  /** Marks `d` finished and drops finished entries from the head of its lane. */
  finish(d: RouteDeadline, timeoutMs: number): void {
    if (d.finished) return;
    d.finish();
    if (!d.timedOut && --this.#live === 0) this.#timer?.unref();
    const lane = this.#lanes.get(timeoutMs);
    if (lane !== undefined) drain(lane);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    // +1 ms: setTimeout may fire a fraction early relative to performance.now().
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, Math.ceil(at - performance.now())) + 1);
    // Like one timer per request: only requests in flight keep the process alive.
    if (this.#live === 0) this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [ms, lane] of this.#lanes) {
      const items = lane.items;
      while (lane.head < items.length) {
        const d = items[lane.head] as RouteDeadline;
        if (!d.finished && d.at > now) break;
        items[lane.head++] = undefined as unknown as RouteDeadline;
        if (!d.finished) {
          this.#live--;
          d.expire();
        }
      }
      compact(lane);
      const first = items[lane.head];
      if (first === undefined) this.#lanes.delete(ms);
      else if (first.at < next) next = first.at;
    }
    if (next !== Infinity) this.#arm(next);
  }
}

/** Drops finished entries from the head of a lane. */
function drain(lane: Lane): void {
  const items = lane.items;
  while (lane.head < items.length && (items[lane.head] as RouteDeadline).finished) {
    items[lane.head++] = undefined as unknown as RouteDeadline;
  }
  compact(lane);
}

/** Reclaims the consumed prefix of a lane once it dominates the array. */
function compact(lane: Lane): void {
  if (lane.head === lane.items.length) {
    lane.items.length = 0;
    lane.head = 0;
  } else if (lane.head > 1024 && lane.head * 2 > lane.items.length) {
    lane.items = lane.items.slice(lane.head);
    lane.head = 0;
  }
}
