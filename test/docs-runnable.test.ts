// The guides cannot rot: every shell block marked runnable in docs/getting-started.md and
// docs/minio.md runs here, in order, as a reader would type it, and must succeed.
//
// Convention (write the guides this way):
//
//   <!-- runnable -->
//   ```sh
//   npx kes key create my-key -k
//   ```
//
//   ```text
//   Created key 'my-key'
//   ```
//
// - `<!-- runnable -->` on the line before a ```sh block: the block runs in one bash
//   (`set -euo pipefail`) shared by all runnable blocks of the guide, so variables, exports
//   and `cd` carry over as in a terminal. stdout is a terminal (the script runs under
//   util-linux `script`), so commands print what a reader sees; `$(…)` captures are not.
// - A ```text block that directly follows a runnable block (blank lines only in between)
//   is its output. Its lines must appear in that order in the real output (each as the whole
//   line or its beginning) after both are normalised: colours removed, every run of whitespace one space, hex identities and
//   base64 values (keys, ciphertexts) one placeholder, digits another — so a guide shows
//   real output and the test checks its shape and words.
// - `<!-- runnable: background -->` before a ```sh block: a command that keeps running
//   (a server). It starts in the background in its own process group; the next block runs
//   once its output says `server started`. If it prints an
//   `export KES_SERVER=… KES_API_KEY=…` line, that line is run in the shell, as the guide
//   tells the reader to paste it. Its output is not compared. All background commands
//   are stopped when the guide ends.
// - The guides use the ports 7373 (the default) and 7374; the test replaces them by free
//   ports, and runs `npm run dev` as `npm run dev -- --port <the first one>`.
// - The blocks run in a temporary directory that stands in for a fresh clone: each of the
//   repository's top-level entries (but what git ignores) is linked into it, so `npm run dev`
//   and `npx kes` work there as in the repository, and the files a guide creates land in the
//   temporary directory. `node_modules/.bin` of the repository is on PATH, so `kes` is the built CLI
//   (as after `npm install -g @kes/cli`). Afterwards every file a guide created must be
//   ignored by the repository's .gitignore.
// - To update a guide's output blocks, run this test with KES_DOCS_DUMP=<dir>: each block's
//   real output goes to <dir>/<guide>-<block line>.txt (colours removed).
//
// Needs a current build (`npm run setup`, or `npm test`, which builds when a source changed;
// or KES_DEV_SKIP_BUILD=1 to take the build as it is), bash, curl, git and util-linux
// `script` and `setsid`. Outside CI the test is skipped when one is missing; in CI it fails.
// Takes 20–30 s per guide, mostly server starts.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const GUIDES = ['docs/getting-started.md', 'docs/minio.md', 'docs/key-rotation.md'] as const;

/** One runnable block of a guide. */
interface RunnableBlock {
  readonly line: number;
  readonly code: string;
  readonly background: boolean;
  /** The ```text block that follows it, if any. */
  readonly output?: string;
}

/** The runnable blocks of a guide, in order. */
function runnableBlocks(markdown: string): RunnableBlock[] {
  const lines = markdown.split('\n');
  const blocks: RunnableBlock[] = [];
  /** The fenced block starting at line i (```lang), or undefined. */
  const fence = (i: number) => {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? '');
    if (!open) return undefined;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    if (end < 0) throw new Error(`line ${i + 1}: unclosed code block`);
    return { lang: open[1], body: lines.slice(i + 1, end).join('\n'), end };
  };
  const skipBlank = (i: number) => {
    while (i < lines.length && lines[i]!.trim() === '') i++;
    return i;
  };
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*runnable(?::\s*(background))?\s*-->\s*$/.exec(lines[i]!);
    if (!marker) continue;
    const start = skipBlank(i + 1);
    const code = fence(start);
    if (code?.lang !== 'sh') throw new Error(`line ${i + 1}: <!-- runnable --> must be followed by a \`\`\`sh block`);
    const next = skipBlank(code.end + 1);
    const out = !marker[1] ? fence(next) : undefined;
    blocks.push({ line: start + 1, code: code.body, background: !!marker[1], output: out?.lang === 'text' ? out.body : undefined });
    i = code.end;
  }
  return blocks;
}

/** ANSI escape sequences: colours, cursor moves (npm's spinner). */
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** Output as compared: no colours or carriage returns, values and numbers replaced, spaces collapsed. */
function normalise(text: string): string[] {
  return (
    text
      .replace(ANSI, '')
      .replace(/\r/g, '')
      .replace(/\b[0-9a-f]{32,}\b/g, '<value>')
      // base64: 40 or more characters (a 32-byte key, a ciphertext), whatever they happen to
      // contain; or 20 or more with upper case, lower case and a digit (an API key).
      .replace(/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={0,2}/g, '<value>')
      .replace(/(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*\d)[A-Za-z0-9+/]{20,}={0,2}/g, '<value>')
      // Numbers, with or without decimals: `13ms` and `4.1ms` are the same shape.
      .replace(/\d+(?:\.\d+)?/g, 'N')
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' ').trim())
      .filter((l) => l !== '')
  );
}

/** The expected lines that do not appear, in order, in the actual output (empty: all do). */
function missingLines(expected: string, actual: string): string[] {
  const want = normalise(expected);
  const got = normalise(actual);
  let at = 0;
  const missing: string[] = [];
  for (const line of want) {
    const found = got.findIndex((g, i) => i >= at && g.startsWith(line));
    if (found < 0) missing.push(line);
    else at = found + 1;
  }
  return missing;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const has = (cmd: string, args: string[]) => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const tools = ['bash', 'curl', 'script', 'setsid', 'git'].every((cmd) => has(cmd, ['--version']));
/**
 * The build is there and current (scripts/bootstrap.mjs), so `npm run dev` starts without
 * building; or KES_DEV_SKIP_BUILD=1 tells `npm run dev` to use the build as it is.
 */
const built = (() => {
  const check = process.env.KES_DEV_SKIP_BUILD
    ? "import('node:fs').then((fs) => process.exit(fs.existsSync('packages/cli/dist/index.js') ? 0 : 1))"
    : "import('./scripts/bootstrap.mjs').then((m) => process.exit(m.buildIsCurrent() ? 0 : 1))";
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', check], { cwd: repo, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const runnable = (tools && built) || !!process.env.CI;

/** Environment of the guide's shell: without the npm_* variables of an enclosing `npm test`. */
function shellEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  for (const k of ['KES_SERVER', 'KES_API_KEY', 'KES_CLIENT_CERT', 'KES_CLIENT_KEY', 'MINIO_KES_SERVER', 'MINIO_KES_API_KEY', 'NO_COLOR'])
    delete env[k];
  // No npm progress spinner: it would be part of the output.
  return { ...env, PATH: `${join(repo, 'node_modules', '.bin')}:${env.PATH}`, TERM: 'xterm', npm_config_progress: 'false' };
}

/** The bash script for a guide: every block in order, each announced by a marker line. */
function script(blocks: RunnableBlock[], ports: readonly [number, number], logs: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = [
    'set -euo pipefail',
    'exec 2>&1',
    '__bg=()',
    // Stop every background command (its whole process group) when the guide ends.
    `trap 'for p in "\${__bg[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done' EXIT`,
    // `npx kes …` runs the repository's `kes` (node_modules/.bin, checked by a test below)
    // without npx's start-up cost, several seconds on a loaded machine.
    'npx() { if [ "${1:-}" = kes ]; then shift; kes "$@"; else command npx "$@"; fi; }',
    'export -f npx',
    `__started() { for _ in $(seq 1 900); do grep -q 'server started' "$1" && return 0; kill -0 "$2" 2>/dev/null || { cat "$1"; return 1; }; sleep 0.2; done; cat "$1"; return 1; }`,
  ];
  blocks.forEach((b, i) => {
    const code = b.code
      .replace(/\b7373\b/g, String(ports[0]))
      .replace(/\b7374\b/g, String(ports[1]))
      .replace(/^npm run dev$/gm, `npm run dev -- --port ${ports[0]}`);
    parts.push(`echo '@@block ${i}@@'`);
    if (!b.background) {
      parts.push(code);
      return;
    }
    const log = join(logs, `background-${i}.log`);
    parts.push(
      `setsid bash -c ${q(`set -euo pipefail\n${code}`)} > ${q(log)} 2>&1 &`,
      '__bg+=($!)',
      `echo $! >> ${q(join(logs, 'pids'))}`,
      `__started ${q(log)} $!`,
      `__export=$(grep -o 'export KES_SERVER=[^" ]* KES_API_KEY=[^" ]*' ${q(log)} | head -n 1 || true)`,
      'if [ -n "$__export" ]; then eval "$__export"; fi',
    );
  });
  parts.push(`echo '@@block end@@'`);
  return `${parts.join('\n')}\n`;
}

/** Runs a guide's blocks; resolves with the exit code and each block's output. */
function runGuide(
  blocks: RunnableBlock[],
  cwd: string,
  ports: readonly [number, number],
  logs: string,
): Promise<{ code: number | null; outputs: string[]; all: string }> {
  const file = join(logs, 'guide.sh');
  writeFileSync(file, script(blocks, ports, logs));
  return new Promise((resolve, reject) => {
    // `script` gives the guide a terminal, so commands print what a reader sees.
    const child = spawn('script', ['-qefc', `bash ${file}`, '/dev/null'], { cwd, env: shellEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let all = '';
    child.stdout.on('data', (c: Buffer) => (all += c.toString()));
    child.stderr.on('data', (c: Buffer) => (all += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const text = all.replace(/\r/g, '');
      const outputs: string[] = [];
      const parts = text.split(/@@block (\d+|end)@@\n?/);
      for (let i = 1; i < parts.length; i += 2) if (parts[i] !== 'end') outputs[Number(parts[i])] = parts[i + 1] ?? '';
      resolve({ code, outputs, all: text });
    });
  });
}

/** Which of `paths` (relative to the repository root) the repository's .gitignore ignores. */
function ignoredByGit(paths: readonly string[]): Set<string> {
  // A scratch git repository with the project's .gitignore answers without touching the
  // project's own repository (which may not even be one).
  const check = mkdtempSync(join(tmpdir(), 'kes-guide-git-'));
  let answer = '';
  try {
    execFileSync('git', ['init', '-q'], { cwd: check });
    cpSync(join(repo, '.gitignore'), join(check, '.gitignore'));
    answer = execFileSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: check, input: paths.join('\n'), encoding: 'utf8' });
  } catch (err) {
    // check-ignore exits 1 when none of the paths is ignored.
    answer = (err as { stdout?: string }).stdout ?? '';
  } finally {
    rmSync(check, { recursive: true, force: true });
  }
  return new Set(answer.split('\n').filter(Boolean));
}

/**
 * A temporary directory standing in for a fresh clone (see the convention above): the
 * repository's top-level entries, linked, except what git ignores (keys and configs left
 * by an earlier walk through a guide, build caches) — node_modules excepted, which
 * `npm run dev` and `npx kes` need.
 */
function fakeClone(): { dir: string; seeded: Set<string> } {
  const dir = mkdtempSync(join(tmpdir(), 'kes-guide-'));
  const entries = readdirSync(repo).filter((e) => e !== '.git');
  const ignored = ignoredByGit(entries);
  const seeded = new Set<string>();
  for (const entry of entries) {
    if (ignored.has(entry) && entry !== 'node_modules') continue;
    symlinkSync(join(repo, entry), join(dir, entry));
    seeded.add(entry);
  }
  return { dir, seeded };
}

/** Files under dir (symlinks not followed) that are not among the seeded entries. */
function createdFiles(dir: string, seeded: Set<string>): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (d === dir && seeded.has(e.name)) continue;
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe('runnable-docs conventions', () => {
  it('finds runnable blocks, their output and background blocks', () => {
    const md = [
      'text',
      '<!-- runnable: background -->',
      '```sh',
      'npm run dev',
      '```',
      '```text',
      'not output of a background block',
      '```',
      '<!-- runnable -->',
      '',
      '```sh',
      'echo a',
      'echo b',
      '```',
      '',
      '```text',
      'a',
      '```',
      '```sh',
      'echo not runnable',
      '```',
    ].join('\n');
    expect(runnableBlocks(md)).toEqual([
      { line: 3, code: 'npm run dev', background: true, output: undefined },
      { line: 11, code: 'echo a\necho b', background: false, output: 'a' },
    ]);
    expect(() => runnableBlocks('<!-- runnable -->\n```yaml\na: 1\n```')).toThrow('line 1: <!-- runnable --> must be followed by a ```sh block');
  });

  it('compares output by shape: values and numbers are placeholders, order matters', () => {
    const real =
      '\u001b[1mplaintext: \u001b[22m xBt6u0wXNuGOujnLE9iIHwlkTsG7WI0gLaRCxCsk7Fo=\r\nUptime:    12s\nidentity f3854a17331b4f6636826dfd9dd1ad21f48a0ff20eae70ceb3fd9300f1e3f3a0';
    expect(missingLines('plaintext: I1A9VlVk3tNVtBZ4LTPc++PoVEFmYeEsxDz7NvDHsBY=\nUptime: 3s', real)).toEqual([]);
    expect(missingLines('Uptime: 3s\nplaintext: I1A9VlVk3tNVtBZ4LTPc++PoVEFmYeEsxDz7NvDHsBY=', real)).toEqual(['plaintext: <value>']);
    expect(missingLines("Created key 'my-key'", real)).toEqual(["Created key 'my-key'"]);
    // An expected line may be the beginning of the real one (a suffix that depends on the build).
    expect(missingLines('Version: 0.1.0', 'Version:   0.1.0 (commit 2cd7ac938fce017ff6af27b69346dec67acaa66a)')).toEqual([]);
    // Paths and words are not mistaken for values.
    expect(normalise('POST /v1/key/generate/my-key')).toEqual(['POST /vN/key/generate/my-key']);
    // A value without a digit (one 32-byte key in ~2000) is still a value; decimals are numbers.
    expect(normalise('plaintext: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR=')).toEqual(['plaintext: <value>']);
    expect(normalise('Latency: 4.1ms')).toEqual(normalise('Latency: 13ms'));
  });
});

describe.skipIf(!runnable).each(GUIDES)('%s: every runnable block works', (guide) => {
  const { dir, seeded } = fakeClone();
  const logs = mkdtempSync(join(tmpdir(), 'kes-guide-logs-'));
  const blocks = runnableBlocks(readFileSync(join(repo, guide), 'utf8'));
  let result: Awaited<ReturnType<typeof runGuide>> | undefined;

  afterAll(() => {
    // The guide's trap stops its servers; this is for a guide killed by the timeout.
    const pids = existsSync(join(logs, 'pids')) ? readFileSync(join(logs, 'pids'), 'utf8').split('\n').filter(Boolean) : [];
    for (const pid of pids) {
      try {
        process.kill(-Number(pid), 'SIGTERM');
      } catch {
        // already stopped
      }
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(logs, { recursive: true, force: true });
  });

  it('has runnable blocks', () => {
    expect(blocks.length).toBeGreaterThan(3);
  });

  it("npx kes in a clone is the repository's kes", () => {
    const version = execFileSync('npx', ['--no-install', 'kes', '--version'], { cwd: dir, env: shellEnv(), encoding: 'utf8' });
    const cli = JSON.parse(readFileSync(join(repo, 'packages', 'cli', 'package.json'), 'utf8')) as { version: string };
    expect(version.trim()).toBe(cli.version);
  });

  it('runs them in order, each succeeding, with the output the guide shows', async () => {
    result = await runGuide(blocks, dir, [await freePort(), await freePort()], logs);
    const dump = process.env.KES_DOCS_DUMP;
    if (dump) {
      mkdirSync(dump, { recursive: true });
      result.outputs.forEach((out, i) => {
        const plain = out.replace(ANSI, '');
        writeFileSync(join(dump, `${guide.replace(/\W+/g, '-')}-${blocks[i]?.line}.txt`), plain);
      });
    }
    const failedAt = result.outputs.length - 1;
    if (result.code !== 0) {
      const b = blocks[failedAt];
      const log = existsSync(logs) ? readdirSync(logs).filter((f) => f.startsWith('background-')) : [];
      const bg = log.map((f) => `--- ${f}\n${readFileSync(join(logs, f), 'utf8')}`).join('\n');
      expect.fail(`${guide}:${b?.line}: block failed (exit ${result.code}):\n${b?.code}\n--- output\n${result.outputs[failedAt]}\n${bg}`);
    }
    expect(result.outputs).toHaveLength(blocks.length);
    blocks.forEach((b, i) => {
      if (b.output === undefined) return;
      expect(missingLines(b.output, result!.outputs[i]!), `${guide}:${b.line}: output lines not found in:\n${result!.outputs[i]}`).toEqual([]);
    });
  }, 240_000);

  it('leaves only files the .gitignore ignores', () => {
    expect(result?.code).toBe(0);
    const created = createdFiles(dir, seeded);
    expect(created.length).toBeGreaterThan(0);
    const ignored = ignoredByGit(created);
    expect(created.filter((f) => !ignored.has(f))).toEqual([]);
  });
});
