// `npm run dev` (scripts/dev.mjs) and the build check it shares with `npm test`
// (scripts/bootstrap.mjs): a busy port is reported before any build, with the way to pick
// another; the build is skipped when no input changed since the last one.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
// Without the npm_* variables of an enclosing `npm test` and without a skip switch.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') && k !== 'KES_DEV_SKIP_BUILD'));

interface Bootstrap {
  buildInputsHash(base?: string): string;
  buildIsCurrent(base?: string): boolean;
  stampFile(base?: string): string;
}
const bootstrap = (await import(join(repo, 'scripts', 'bootstrap.mjs'))) as Bootstrap;

describe('npm run dev with the port taken', () => {
  let busy: Server;
  let port: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  // The check runs first: these finish in a second even when a build would be needed.
  it.each([
    ['--port', (p: number) => ['--port', String(p)]],
    ['--addr', (p: number) => ['--addr', `127.0.0.1:${p}`]],
    ['--addr=', (p: number) => [`--addr=127.0.0.1:${p}`]],
  ])('%s: says so before building, and how to choose another port', async (_name, args) => {
    const failed = await run(process.execPath, [join(repo, 'scripts', 'dev.mjs'), ...args(port)], { cwd: repo, env, encoding: 'utf8' }).then(
      () => undefined,
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toBe(''); // no install or build output: it stopped before them
    expect(failed?.stderr).toBe(
      `npm run dev: 127.0.0.1:${port} is already in use (another kes server?).\n` +
        'Choose another port, for example:\n' +
        `  npm run dev -- --port ${port + 1}\n` +
        '  npm run dev -- --port 0          (any free port; the address is printed at start)\n',
    );
  });
});

describe('the build check', () => {
  const base = mkdtempSync(join(tmpdir(), 'kes-build-check-'));
  const src = join(base, 'packages', 'core', 'src');
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  beforeAll(() => {
    mkdirSync(src, { recursive: true });
    mkdirSync(join(base, 'packages', 'core', 'dist'));
    for (const f of ['package.json', 'pnpm-lock.yaml', 'tsup.base.ts', 'tsconfig.base.json']) writeFileSync(join(base, f), '{}');
    writeFileSync(join(base, 'packages', 'core', 'package.json'), '{}');
    writeFileSync(join(src, 'index.ts'), 'export const a = 1;\n');
    writeFileSync(join(base, 'packages', 'core', 'dist', 'index.js'), '');
  });

  const stamp = () => {
    mkdirSync(join(base, '.cache'), { recursive: true });
    writeFileSync(bootstrap.stampFile(base), `${bootstrap.buildInputsHash(base)}\n`);
  };

  it('is current right after a build and stays so while nothing changes', () => {
    expect(bootstrap.buildIsCurrent(base)).toBe(false); // never built
    stamp();
    expect(bootstrap.buildIsCurrent(base)).toBe(true);
    expect(bootstrap.buildInputsHash(base)).toBe(bootstrap.buildInputsHash(base));
  });

  it('a touched, added or deleted source, or a changed lock file, needs a build', () => {
    stamp();
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(src, 'index.ts'), later, later);
    expect(bootstrap.buildIsCurrent(base)).toBe(false);

    stamp();
    writeFileSync(join(src, 'extra.ts'), 'export {};\n');
    expect(bootstrap.buildIsCurrent(base)).toBe(false);

    stamp();
    rmSync(join(src, 'extra.ts'));
    expect(bootstrap.buildIsCurrent(base)).toBe(false);

    stamp();
    writeFileSync(join(base, 'pnpm-lock.yaml'), '{"changed":true}');
    expect(bootstrap.buildIsCurrent(base)).toBe(false);
  });

  it('a changed test file does not (tests are not built)', () => {
    writeFileSync(join(src, 'index.test.ts'), '');
    stamp();
    writeFileSync(join(src, 'index.test.ts'), 'changed');
    expect(bootstrap.buildIsCurrent(base)).toBe(true);
  });

  it('a missing build output needs a build even with a matching stamp', () => {
    stamp();
    rmSync(join(base, 'packages', 'core', 'dist', 'index.js'));
    expect(bootstrap.buildIsCurrent(base)).toBe(false);
  });
});
