// End-to-end (the BUILT CLI): the fs key store's warning about a key directory that others
// could read (it restricts the directory to the owner) is a record of the server log, not a
// Node process warning on stderr that log collectors do not parse.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { killAll, runKes } from './helpers/spawn.js';

const built = existsSync(new URL('../dist/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kes-cli-fs-warning-'));

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!built)('fs key store warnings (built CLI)', () => {
  it('a too-open key directory is restricted and reported as a WARN record of the server log', async () => {
    const cert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
    writeFileSync(join(dir, 'server.key'), cert.privateKeyPem);
    writeFileSync(join(dir, 'server.cert'), cert.certificatePem);
    const keys = join(dir, 'keys');
    mkdirSync(keys);
    chmodSync(keys, 0o755);
    const config = join(dir, 'kes.yml');
    writeFileSync(
      config,
      [
        'address: 127.0.0.1:0',
        `admin: {identity: ${ApiKey.generate().identity}}`,
        `tls: {key: ${join(dir, 'server.key')}, cert: ${join(dir, 'server.cert')}}`,
        `keystore: {fs: {path: ${keys}}}`,
        '',
      ].join('\n'),
    );
    const kes = runKes(['server', '--config', config, '--workers', '1', '--json']);
    const warning = await kes.waitFor((r) => r.level === 'WARN' && String(r.msg).includes('had mode 0755'));
    expect(String(warning.msg)).toContain(keys);
    await kes.waitFor((r) => r.msg === 'server started');
    expect(statSync(keys).mode & 0o777).toBe(0o700);
    expect(kes.stderr()).not.toContain('KES_FS_KEYSTORE');
    kes.child.kill('SIGTERM');
    await kes.exited();
  });
});
