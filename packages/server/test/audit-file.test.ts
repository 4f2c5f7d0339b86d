// The audit file (`log.auditFile`): records written before the reply, size rotation that
// loses nothing (also across processes that share the file), and fail-closed refusals on
// a full disk (/dev/full answers every write with ENOSPC), a missing directory and a
// path that cannot be written — with recovery once the file can be written again.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditFileOptions } from '@kes/server';
import { AuditFile } from '../src/internal/audit-file.js';
import { expectError, setup } from './api-helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kes-audit-'));
  dirs.push(d);
  return d;
}

/** Every record in `path` and its rotated files, oldest file first. */
function records(path: string): { request: { path: string }; response: { code: number } }[] {
  const dir = join(path, '..');
  const base = path.slice(dir.length + 1);
  const rotated = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}.`))
    .map((f) => Number(f.slice(base.length + 1)))
    .sort((a, b) => b - a)
    .map((n) => `${path}.${n}`);
  const files = [...rotated, ...(existsSync(path) ? [path] : [])];
  return files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l)),
  );
}

async function handlerWith(auditFile: AuditFileOptions) {
  const s = await setup({ log: { error: 'off', audit: 'off', auditFile } });
  await s.handler.inject({ method: 'POST', path: '/v1/key/create/k', identity: s.admin });
  return s;
}

const generate = (admin: string) => ({ method: 'POST', path: '/v1/key/generate/k', identity: admin, body: '{}' });

describe('audit file', () => {
  it('holds each reply until its record is in the file', async () => {
    const path = join(tempDir(), 'audit.log');
    const s = await handlerWith({ path });
    for (let i = 0; i < 5; i++) {
      const res = await s.handler.inject(generate(s.admin));
      expect(res.status).toBe(200);
      // The reply is complete, so its record must already be in the file.
      const recs = records(path);
      expect(recs.at(-1)).toMatchObject({ request: { path: '/v1/key/generate/k', identity: s.admin }, response: { code: 200 } });
      expect(recs).toHaveLength(2 + i);
    }
    expect(readFileSync(path, 'utf8')).not.toMatch(/plaintext|ciphertext/);
    await s.handler.close();
  });

  it('rotates by size and keeps every record', async () => {
    const path = join(tempDir(), 'audit.log');
    const s = await handlerWith({ path, maxSizeBytes: 600, maxFiles: 50 });
    for (let i = 0; i < 40; i++) await s.handler.inject(generate(s.admin));
    await s.handler.close();
    const recs = records(path);
    expect(recs).toHaveLength(41);
    expect(readdirSync(join(path, '..')).length).toBeGreaterThan(3);
    for (const f of readdirSync(join(path, '..'))) expect(readFileSync(join(path, '..', f)).length).toBeLessThanOrEqual(600);
  });

  it('group-commits concurrent records without losing one', async () => {
    const path = join(tempDir(), 'audit.log');
    const s = await handlerWith({ path, maxSizeBytes: 2000, maxFiles: 50 });
    await Promise.all(Array.from({ length: 200 }, () => s.handler.inject(generate(s.admin))));
    await s.handler.close();
    expect(records(path)).toHaveLength(201);
  });

  it('keeps at most maxFiles rotated files', async () => {
    const path = join(tempDir(), 'audit.log');
    const s = await handlerWith({ path, maxSizeBytes: 300, maxFiles: 2 });
    for (let i = 0; i < 20; i++) await s.handler.inject(generate(s.admin));
    await s.handler.close();
    expect(readdirSync(join(path, '..')).sort()).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
  });

  it.skipIf(!existsSync('/dev/full'))('full disk, fail-closed: 503, no data key leaves, the error is logged', async () => {
    const s = await handlerWith({ path: '/dev/full', failClosed: true });
    const res = await s.handler.inject(generate(s.admin));
    expectError(res, 503, 'audit log is unavailable', expect);
    // Refused up front while the file stays unwritable: the handler does not run.
    const again = await s.handler.inject(generate(s.admin));
    expectError(again, 503, 'audit log is unavailable', expect);
    expect(s.errors.map((e) => JSON.stringify(e)).join('\n')).toMatch(/audit file \/dev\/full: .*ENOSPC/);
    // Listeners and streams still see what happened, with the status the client got.
    expect(s.audits.at(-1)).toMatchObject({ response: { code: 503 } });
    await s.handler.close();
  });

  it.skipIf(!existsSync('/dev/full'))('full disk, fail-open: the reply goes out and the failure is logged once', async () => {
    const s = await handlerWith({ path: '/dev/full' });
    for (let i = 0; i < 3; i++) expect((await s.handler.inject(generate(s.admin))).status).toBe(200);
    expect(s.errors.filter((e) => JSON.stringify(e).includes('ENOSPC'))).toHaveLength(1);
    await s.handler.close();
  });

  it('missing directory, fail-closed: refuses, then recovers and writes the refused requests too', async () => {
    const dir = join(tempDir(), 'later');
    const path = join(dir, 'audit.log');
    const s = await setup({ log: { error: 'off', audit: 'off', auditFile: { path, failClosed: true } } });
    expectError(await s.handler.inject({ method: 'POST', path: '/v1/key/create/k', identity: s.admin }), 503, 'audit log is unavailable', expect);
    // The key was not created: a fail-closed refusal happens before the handler runs.
    expect(await s.store.list('', {})).toMatchObject({ names: [] });
    expectError(await s.handler.inject({ method: 'GET', path: '/v1/log/audit', identity: s.admin }), 503, 'audit log is unavailable', expect);
    mkdirSync(dir);
    expect((await s.handler.inject({ method: 'POST', path: '/v1/key/create/k', identity: s.admin })).status).toBe(200);
    const codes = records(path).map((r) => [r.request.path, r.response.code]);
    expect(codes).toEqual([
      ['/v1/key/create/k', 503],
      ['/v1/log/audit', 503],
      ['/v1/key/create/k', 200],
    ]);
    await s.handler.close();
  });

  it('a path that cannot be written as a file (a directory) refuses fail-closed', async () => {
    const path = tempDir();
    const s = await handlerWith({ path, failClosed: true });
    expectError(await s.handler.inject(generate(s.admin)), 503, 'audit log is unavailable', expect);
    await s.handler.close();
  });

  it.skipIf(process.getuid?.() === 0)('a read-only file refuses fail-closed (not as root: root writes anyway)', async () => {
    const path = join(tempDir(), 'audit.log');
    writeFileSync(path, '', { mode: 0o400 });
    const s = await handlerWith({ path, failClosed: true });
    expectError(await s.handler.inject(generate(s.admin)), 503, 'audit log is unavailable', expect);
    await s.handler.close();
  });

  it('writers that do not rotate follow a rotation done by another process (by inode)', async () => {
    const path = join(tempDir(), 'audit.log');
    const rotator = new AuditFile({ path, maxSizeBytes: 200, maxFiles: 100 }, { rotate: true });
    const worker = new AuditFile({ path, maxSizeBytes: 200, maxFiles: 100 }, { rotate: false });
    const line = (i: number) => `${JSON.stringify({ request: { path: `/${i}` }, response: { code: 200 } })}\n`;
    for (let i = 0; i < 60; i++) {
      await worker.append(line(i));
      if (i % 7 === 0) await rotator.rotateIfNeeded();
    }
    await worker.close();
    await rotator.close();
    expect(records(path).map((r) => r.request.path)).toEqual(Array.from({ length: 60 }, (_, i) => `/${i}`));
    expect(readdirSync(join(path, '..')).length).toBeGreaterThan(2);
  });

  it('fsync mode writes the same records', async () => {
    const path = join(tempDir(), 'audit.log');
    const s = await handlerWith({ path, fsync: true });
    await Promise.all(Array.from({ length: 10 }, () => s.handler.inject(generate(s.admin))));
    await s.handler.close();
    expect(records(path)).toHaveLength(11);
  });

  it('a reload switches the file; records of the old one are complete', async () => {
    const dir = tempDir();
    const s = await handlerWith({ path: join(dir, 'a.log') });
    await s.handler.inject(generate(s.admin));
    await s.handler.update({ admin: s.admin, keyStore: s.store, log: { error: 'off', audit: 'off', auditFile: { path: join(dir, 'b.log') } } });
    await s.handler.inject(generate(s.admin));
    await s.handler.close();
    expect(records(join(dir, 'a.log'))).toHaveLength(2);
    expect(records(join(dir, 'b.log'))).toHaveLength(1);
  });
});
