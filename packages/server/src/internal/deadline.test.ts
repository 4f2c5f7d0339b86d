import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from './deadline.js';

function fakeResponse(): { writableEnded: boolean; destroyed: number; destroy(): void } {
  return {
    writableEnded: false,
    destroyed: 0,
    destroy() {
      this.destroyed++;
    },
  };
}

describe('DeadlineQueue (route timeouts on one shared timer)', () => {
  it('expires an unfinished request: timed out, signal aborted, response torn down', async () => {
    const q = new DeadlineQueue();
    const res = fakeResponse();
    const d = q.start(20, res);
    const signal = d.signal;
    expect(signal.aborted).toBe(false);
    await sleep(80);
    expect(d.timedOut).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(res.destroyed).toBe(1);
    q.finish(d, 20);
    expect(d.timedOut).toBe(true);
  });

  it('never fires for a finished request, and leaves an ended response alone', async () => {
    const q = new DeadlineQueue();
    const res = fakeResponse();
    const done = q.start(20, res);
    q.finish(done, 20);
    const ended = fakeResponse();
    ended.writableEnded = true;
    const late = q.start(20, ended);
    await sleep(80);
    expect(done.timedOut).toBe(false);
    expect(done.signal.aborted).toBe(false);
    expect(res.destroyed).toBe(0);
    expect(late.timedOut).toBe(true);
    expect(ended.destroyed).toBe(0);
  });

  it('creates the signal on demand, already aborted when asked after the timeout', async () => {
    const q = new DeadlineQueue();
    const d = q.start(10, fakeResponse());
    await sleep(60);
    expect(d.signal.aborted).toBe(true);
  });

  it('handles several timeout values: a short deadline added after a long one still fires first', async () => {
    const q = new DeadlineQueue();
    const long = q.start(10_000, fakeResponse());
    const shortRes = fakeResponse();
    const short = q.start(20, shortRes);
    const finishedEarly = q.start(20, fakeResponse());
    q.finish(finishedEarly, 20);
    await sleep(80);
    expect(short.timedOut).toBe(true);
    expect(shortRes.destroyed).toBe(1);
    expect(finishedEarly.timedOut).toBe(false);
    expect(long.timedOut).toBe(false);
    q.finish(long, 10_000);
    expect(long.timedOut).toBe(false);
  });

  it('keeps expiring requests in start order within one timeout value', async () => {
    const q = new DeadlineQueue();
    const order: number[] = [];
    const ds = [0, 1, 2, 3].map((i) => q.start(15, { writableEnded: false, destroy: () => order.push(i) }));
    q.finish(ds[1]!, 15);
    await sleep(70);
    expect(order).toStrictEqual([0, 2, 3]);
  });
});
