// Proves that importing `@kes/keystores/aws` (and creating a store) does not load
// the AWS SDK: only the first call does. Runs in its own test file, so its
// module registry starts without the SDK.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AWS_SDK_PACKAGE, awsSdkLoadError, isAwsSdkMissing } from '../src/internal/aws-sdk.js';

const require = createRequire(import.meta.url);

/** True if any file of the Secrets Manager client package is in Node's module cache. */
function sdkLoaded(): boolean {
  return Object.keys(require.cache).some((p) => p.includes(`${'client-secrets-manager'}`));
}

describe('@kes/keystores/aws loads the AWS SDK lazily', () => {
  it('not on import, not on createAwsKeyStore(), only on the first call', async () => {
    expect(sdkLoaded()).toBe(false);
    const { createAwsKeyStore } = await import('@kes/keystores/aws');
    expect(sdkLoaded()).toBe(false);
    // The package index must not pull it in either.
    await import('@kes/keystores');
    expect(sdkLoaded()).toBe(false);

    // A stand-in endpoint answering ListSecrets, so the first call succeeds without moto.
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ SecretList: [] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const store = createAwsKeyStore({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      expect(sdkLoaded()).toBe(false);
      await store.status();
      // The probe above is only meaningful if it can see the SDK once loaded.
      expect(sdkLoaded()).toBe(true);
      await store.close();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('the sources import the SDK for types only', () => {
    const src = new URL('../src/', import.meta.url);
    const files = [
      new URL('aws.ts', src),
      ...readdirSync(new URL('internal/', src))
        .filter((f) => f.startsWith('aws-') && f.endsWith('.ts'))
        .map((f) => new URL(`internal/${f}`, src)),
    ];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const line of text.split('\n')) {
        if (/^\s*import\b/.test(line) && line.includes('@aws-sdk/')) {
          expect(line, file.pathname).toMatch(/^\s*import type\b/);
        }
        if (/^\s*export\b.*from\s+['"]@aws-sdk\//.test(line)) {
          expect(line, file.pathname).toMatch(/^\s*export type\b/);
        }
      }
    }
  });
});

// The SDK is an optional peer dependency. Without uninstalling it, Node's own error
// for a missing package is produced in a directory that has no node_modules; the
// packaging test (packages/cli/test/pack.test.ts) checks the whole path on a real
// install without the SDK.
describe('a missing AWS SDK gives an error naming the package', () => {
  function missingPackageError(): unknown {
    const dir = mkdtempSync(join(tmpdir(), 'kes-aws-missing-'));
    try {
      writeFileSync(
        join(dir, 'probe.mjs'),
        `import(${JSON.stringify(AWS_SDK_PACKAGE)}).then(() => console.log('null'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`,
      );
      return JSON.parse(execFileSync(process.execPath, [join(dir, 'probe.mjs')], { cwd: dir, encoding: 'utf8' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("maps Node's not-found error to an install hint", () => {
    const err = missingPackageError();
    expect(err).not.toBeNull();
    expect(isAwsSdkMissing(err)).toBe(true);
    expect(awsSdkLoadError(err).message).toBe(
      '@aws-sdk/client-secrets-manager is not installed: the AWS Secrets Manager key store needs it ' +
        "(an optional peer dependency of @kes/keystores); install it with 'npm install @aws-sdk/client-secrets-manager'",
    );
  });

  it('reports a broken SDK install (a dependency of the SDK missing) as a load failure, not as "not installed"', () => {
    const err = Object.assign(
      new Error("Cannot find package '@smithy/core' imported from /app/node_modules/@aws-sdk/client-secrets-manager/dist-es/index.js"),
      { code: 'ERR_MODULE_NOT_FOUND' },
    );
    expect(isAwsSdkMissing(err)).toBe(false);
    expect(awsSdkLoadError(err).message).toBe(
      "cannot load @aws-sdk/client-secrets-manager: Cannot find package '@smithy/core' imported from /app/node_modules/@aws-sdk/client-secrets-manager/dist-es/index.js",
    );
  });
});
