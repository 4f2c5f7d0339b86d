import type { Options } from 'tsup';

/**
 * Shared build settings for every package: ESM only, Node 20, with type declarations.
 *
 * - `splitting: true`: code shared by several entries, and every module reached only
 *   through `await import()`, becomes its own chunk. Without it esbuild inlines a lazy
 *   `import('./vault.js')` into each entry that reaches it, so the Vault client would
 *   ship (and load) twice and `@kes/keystores`' main entry would carry every adapter.
 * - `removeNodeProtocol: false`: keep `node:crypto`, `node:fs`, … as written. tsup 8
 *   strips the `node:` prefix by default, which lets a userland package named `crypto`
 *   or `fs` in the consumer's node_modules shadow a builtin.
 */
export function baseConfig(entry: Record<string, string>, extra: Partial<Options> = {}): Options {
  return {
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    removeNodeProtocol: false,
    treeshake: true,
    ...extra,
  };
}
