import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { differsOnlyByCase, platformFoldsCase, probeCaseInsensitive } from './case-probe.js';

const dir = mkdtempSync(join(tmpdir(), 'kes-case-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probeCaseInsensitive', () => {
  it.runIf(process.platform === 'linux')('is false on a Linux directory and removes its probe file', async () => {
    expect(await probeCaseInsensitive(dir, '.tmp-')).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fails (so the store falls back to the platform default) when the directory is missing', async () => {
    await expect(probeCaseInsensitive(join(dir, 'missing'), '.tmp-')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('platform defaults: macOS and Windows fold case, Linux does not', () => {
    expect([platformFoldsCase('darwin'), platformFoldsCase('win32'), platformFoldsCase('linux')]).toEqual([true, true, false]);
  });
});

describe('differsOnlyByCase', () => {
  it('finds another spelling of a name, but not the name itself', () => {
    expect(differsOnlyByCase('APP-SECRET', ['app-secret'])).toBe(true);
    expect(differsOnlyByCase('app-secret', ['App-Secret', 'x'])).toBe(true);
    expect(differsOnlyByCase('app-secret', ['app-secret'])).toBe(false);
    expect(differsOnlyByCase('app-secret', ['app-secret', 'APP-SECRET'])).toBe(false); // a case-sensitive dir can hold both
    expect(differsOnlyByCase('app-secret', ['app-secrets', '.tmp-app-secret'])).toBe(false);
    expect(differsOnlyByCase('key', ['\u212aey'])).toBe(true); // KELVIN SIGN lower-cases to 'k'
  });
});
