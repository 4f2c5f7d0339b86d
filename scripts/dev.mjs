// `npm run dev`: install (if needed), build (if a source changed since the last build),
// then start `kes server --dev`. Extra arguments go to `kes server`:
//   npm run dev -- --port 7374        another port (0: any free port)
//   npm run dev -- --addr 0.0.0.0:7373
// The listen address is checked before the build, so a busy port fails at once with
// the way out instead of after a build. KES_DEV_SKIP_BUILD=1 starts the existing build
// without checking it (as KES_TEST_SKIP_BUILD does for `npm test`).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { buildIfChanged, ensureInstalled, root } from './bootstrap.mjs';

const args = process.argv.slice(2);

/** The value of `--name VALUE` or `--name=VALUE` (the last one wins, as in yargs). */
function flag(name) {
  let value;
  args.forEach((arg, i) => {
    if (arg === `--${name}`) value = args[i + 1];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  });
  return value;
}

/** The address `kes server --dev` will listen on: 127.0.0.1:7373 unless --addr/--port say otherwise. */
function listenAddress() {
  let host = '127.0.0.1';
  let port = 7373;
  const addr = flag('addr');
  if (addr !== undefined) {
    const m = /^(?:\[([^\]]*)\]|([^:]*))(?::(\d+))?$/.exec(addr);
    if (m) {
      host = m[1] ?? m[2] ?? '';
      if (m[3] !== undefined) port = Number(m[3]);
    }
  }
  const p = flag('port');
  if (p !== undefined && /^\d+$/.test(p)) port = Number(p);
  return { host: host || '0.0.0.0', port };
}

/** Resolves with the error code (EADDRINUSE, EACCES, …) when the address cannot be bound, undefined when it can. */
function bindProblem({ host, port }) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err) => resolve(err.code ?? err.message));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

const address = listenAddress();
if (address.port !== 0) {
  const problem = await bindProblem(address);
  if (problem) {
    const where = `${address.host}:${address.port}`;
    const why = problem === 'EADDRINUSE' ? 'is already in use (another kes server?)' : `cannot be used (${problem})`;
    process.stderr.write(
      `npm run dev: ${where} ${why}.\n` +
        'Choose another port, for example:\n' +
        `  npm run dev -- --port ${address.port === 65535 ? 7374 : address.port + 1}\n` +
        '  npm run dev -- --port 0          (any free port; the address is printed at start)\n',
    );
    process.exit(1);
  }
}

ensureInstalled();
if (!process.env.KES_DEV_SKIP_BUILD) buildIfChanged();
const child = spawn(process.execPath, [`${root}/packages/cli/bin/kes.js`, 'server', '--dev', ...args], {
  cwd: root,
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
