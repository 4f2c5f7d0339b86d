import { describe, expect, it, vi } from 'vitest';
import { TokenSession } from './token-session.js';
import type { TokenLease } from './token-session.js';

/** A login that hands out `t1`, `t2`, … and counts its calls; `fail` makes the next ones throw. */
function logins(lease: (n: number) => Omit<TokenLease, 'token'> = () => ({ staleAt: Number.POSITIVE_INFINITY })) {
  const state = { count: 0, fail: false };
  const login = async (): Promise<TokenLease> => {
    state.count++;
    await new Promise((r) => setTimeout(r, 5));
    if (state.fail) throw new Error('refused');
    return { token: `t${state.count}`, ...lease(state.count) };
  };
  return { state, login };
}

describe('TokenSession', () => {
  it('concurrent callers share one login, and the token is cached', async () => {
    const { state, login } = logins();
    const s = new TokenSession({ login });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => s.token()));
    expect(new Set(tokens)).toEqual(new Set(['t1']));
    expect(await s.token()).toBe('t1');
    expect(state.count).toBe(1);
  });

  it('a stale token is replaced before it is handed out', async () => {
    let now = 0;
    const { state, login } = logins(() => ({ staleAt: now + 100 }));
    const s = new TokenSession({ login, now: () => now });
    expect(await s.token()).toBe('t1');
    now = 99;
    expect(await s.token()).toBe('t1');
    now = 100;
    expect(await s.token()).toBe('t2');
    expect(state.count).toBe(2);
  });

  it('refresh: one re-login for every caller that saw the same token rejected; a newer token is kept', async () => {
    const { state, login } = logins();
    const s = new TokenSession({ login });
    const t1 = await s.token();
    const again = await Promise.all(Array.from({ length: 10 }, () => s.refresh(t1)));
    expect(new Set(again)).toEqual(new Set(['t2']));
    expect(await s.refresh(t1)).toBe('t2');
    expect(state.count).toBe(2);
  });

  it('a failed login reaches every waiting caller; the next call tries again', async () => {
    const { state, login } = logins();
    const s = new TokenSession({ login });
    state.fail = true;
    const results = await Promise.allSettled([s.token(), s.token()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(state.count).toBe(1);
    state.fail = false;
    expect(await s.token()).toBe('t2');
  });

  it('an aborted caller stops waiting; the shared login goes on for the others', async () => {
    const { state, login } = logins();
    const s = new TokenSession({ login });
    const ac = new AbortController();
    const aborted = s.token(ac.signal);
    const other = s.token();
    ac.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    expect(await other).toBe('t1');
    expect(state.count).toBe(1);
  });

  it('renews in the background; after a failed renewal the old token stays and a retry follows', async () => {
    const { state, login } = logins(() => ({ staleAt: Number.POSITIVE_INFINITY, renewInMs: 30 }));
    const s = new TokenSession({ login, retryMs: 30 });
    expect(await s.token()).toBe('t1');
    await vi.waitFor(() => expect(state.count).toBeGreaterThanOrEqual(2), { timeout: 3_000, interval: 5 });
    state.fail = true;
    const failedFrom = state.count;
    await vi.waitFor(() => expect(state.count).toBeGreaterThanOrEqual(failedFrom + 2), { timeout: 3_000, interval: 5 });
    // The last token before the failures is still handed out, without a login of its own.
    const kept = s.current?.token;
    expect(kept).toMatch(/^t\d+$/);
    expect(Number(kept?.slice(1))).toBeLessThanOrEqual(failedFrom);
    expect(await s.token()).toBe(kept);
    s.close();
  });

  it('uses the store renewal first, and logs in when it gives nothing', async () => {
    const { state, login } = logins(() => ({ staleAt: Number.POSITIVE_INFINITY, renewInMs: 20 }));
    const renewals: boolean[] = [];
    const s = new TokenSession<TokenLease>({
      login,
      renew: async (lease, retry) => {
        renewals.push(retry);
        return renewals.length === 1 ? { ...lease, token: `${lease.token}-renewed`, renewInMs: 20 } : undefined;
      },
    });
    expect(await s.token()).toBe('t1');
    await vi.waitFor(() => expect(state.count).toBe(2), { timeout: 3_000, interval: 5 });
    expect(renewals.slice(0, 2)).toEqual([false, false]);
    s.close();
  });

  it('close stops renewal and forgets the token', async () => {
    const { state, login } = logins(() => ({ staleAt: Number.POSITIVE_INFINITY, renewInMs: 10 }));
    const s = new TokenSession({ login });
    await s.token();
    s.close();
    expect(s.current).toBeUndefined();
    await new Promise((r) => setTimeout(r, 60));
    expect(state.count).toBe(1);
  });
});
