import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));

// Tests run against src/, so `pnpm test` needs no build. Subpath aliases come first.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@kes\/keystores\/(.*)$/, replacement: src('keystores/src/$1.ts') },
      { find: /^@kes\/core\/wire$/, replacement: src('core/src/wire.ts') },
      { find: /^@kes\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@kes\/keystores$/, replacement: src('keystores/src/index.ts') },
      { find: /^@kes\/server$/, replacement: src('server/src/index.ts') },
      { find: /^@kes\/client$/, replacement: src('client/src/index.ts') },
      { find: /^@kes\/cli\/config$/, replacement: src('cli/src/config/index.ts') },
      { find: /^@kes\/cli$/, replacement: src('cli/src/index.ts') },
    ],
  },
  test: {
    // Package unit and integration tests, the examples' own tests, and the repository-wide
    // tests in test/ (the runnable guides, the `npm run dev` script).
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
