// The fs store removes the temp files that killed creates left behind (they hold key
// material), on first use, without touching a create in flight in a live process.
// End to end (SIGKILL of `kes server` during 1,000 creates): packages/cli/test/faults-fs-crash.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFsKeyStore } from '@kes/keystores/fs';

const dir = mkdtempSync(join(tmpdir(), 'kes-fs-stale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fs key store: temp files of killed creates', () => {
  it('are removed on first use when their process is gone or they are older than an hour', async () => {
    const keys = join(dir, 'keys');
    const store = createFsKeyStore({ path: keys });
    await store.create('k', new Uint8Array([1, 2, 3])); // creates the directory
    await store.close();

    // A process that has exited: its PID is (for now) not in use.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const files = {
      dead: `.tmp-${dead}-aaaa`,
      self: `.tmp-${process.pid}-bbbb`,
      live: `.tmp-${process.ppid}-cccc`,
      oldWithoutPid: '.tmp-0123456789abcdef01234567',
      newWithoutPid: '.tmp-fedcba9876543210fedcba98',
    };
    for (const f of Object.values(files)) writeFileSync(join(keys, f), 'key material', { mode: 0o600 });
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(join(keys, files.oldWithoutPid), twoHoursAgo, twoHoursAgo);

    const again = createFsKeyStore({ path: keys });
    expect(await again.get('k')).toEqual(new Uint8Array([1, 2, 3]));
    expect(readdirSync(keys).sort()).toEqual([files.live, files.newWithoutPid, files.self, 'k'].sort());
    await again.close();
  });
});

describe('fs key store: temp files of killed record creates', () => {
  it('are removed from the versions directory on its first use, with the same rules', async () => {
    const keys = join(dir, 'keys2');
    const vdir = `${keys}.versions`;
    const store = createFsKeyStore({ path: keys });
    await store.versions!.create('k', '2', new Uint8Array([1, 2, 3])); // creates the versions directory
    await store.close();

    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const files = { dead: `.tmp-${dead}-aaaa`, live: `.tmp-${process.ppid}-cccc` };
    for (const f of Object.values(files)) writeFileSync(join(vdir, f), 'key material', { mode: 0o600 });

    const again = createFsKeyStore({ path: keys });
    expect(await again.versions!.list('k')).toEqual(['2']);
    expect(readdirSync(vdir).sort()).toEqual([files.live, 'k'].sort());
    await again.close();
  });
});
