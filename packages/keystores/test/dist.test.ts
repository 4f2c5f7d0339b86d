// The BUILT package (needs `pnpm build`): the main entry stays lean. `splitting: true`
// in tsup.base.ts keeps each lazily imported adapter in its own file; without it esbuild
// inlines `import('./vault.js')` into every entry that reaches it, so `@kes/keystores`
// would carry (and parse) the Vault and AWS code on every import, and ship it twice.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dist = new URL('../dist/', import.meta.url);
// Skipped without a build, except in CI, where a missing build is a failure.
const built = existsSync(new URL('index.js', dist)) || !!process.env.CI;

/** Text of each file that `entry` loads at import time: itself and its static imports, transitively. */
function staticClosure(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    const text = readFileSync(new URL(file, dist), 'utf8');
    seen.set(file, text);
    // `import … from './x.js'`, `export … from './x.js'` and `import './x.js'`; not `import('./x.js')`.
    for (const m of text.matchAll(/^\s*(?:import|export)\b[^;(]*?['"]\.\/([^'"]+)['"]/gm)) pending.push(m[1]!);
  }
  return seen;
}

/** Strings that occur only in an adapter's code. */
const ADAPTER_MARKERS = ['X-Vault-Token', 'X-Vault-Namespace', 'sys/health', '@aws-sdk/', 'SecretsManager'];

describe.skipIf(!built)('@kes/keystores build output', () => {
  it('the main entry and what it loads statically contain no Vault or AWS code', () => {
    const closure = staticClosure('index.js');
    const text = [...closure.values()].join('\n');
    for (const marker of ADAPTER_MARKERS) expect(text, marker).not.toContain(marker);
    // It still holds the stores it exports, and reaches the adapters only through import().
    expect(text).toContain('createMemoryKeyStore');
    expect(text).toContain('createFsKeyStore');
    expect(text).toContain("import('./vault.js')");
    expect(text).toContain("import('./aws.js')");
  });

  it('each adapter ships once, in its own entry', () => {
    const files = readdirSync(dist).filter((f) => f.endsWith('.js'));
    const holding = (marker: string) => files.filter((f) => readFileSync(new URL(f, dist), 'utf8').includes(marker));
    expect(holding('X-Vault-Token')).toHaveLength(1);
    expect(holding("import('@aws-sdk/client-secrets-manager')")).toEqual(['aws.js']);
    // The SDK stays external: the build never bundles it.
    expect(holding('class SecretsManagerClient')).toEqual([]);
  });
});
