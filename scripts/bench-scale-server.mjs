// One kes-ts server process for the scale scenarios of `pnpm bench` (scripts/bench-scale.mjs):
// the built @kes/server over an fs or Vault key store wrapped in a counter of key-store
// calls. Prints `{"port":N}` once listening; each `stats` line on stdin is answered with one
// JSON line (key-store calls, RSS, peak RSS, heap after a full GC).
//
// Config (env): SCALE_STORE=fs|vault, SCALE_DIR (fs), SCALE_VAULT_ADDR, SCALE_VAULT_TOKEN,
// SCALE_ADMIN (identity), SCALE_CERT, SCALE_KEY (PEM files). Run with --expose-gc.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createKeyStore } from '@kes/keystores';
import { createKesServer } from '@kes/server';

const env = process.env;
const inner =
  env.SCALE_STORE === 'vault'
    ? await createKeyStore({
        type: 'vault',
        options: { endpoint: env.SCALE_VAULT_ADDR, engine: 'secret', version: 'v2', token: env.SCALE_VAULT_TOKEN, tls: { insecureSkipVerify: true } },
      })
    : await createKeyStore({ type: 'fs', options: { path: env.SCALE_DIR } });

const calls = { get: 0, list: 0, create: 0 };
const store = {
  kind: inner.kind,
  create(n, v, o) {
    calls.create++;
    return inner.create(n, v, o);
  },
  get(n, o) {
    calls.get++;
    return inner.get(n, o);
  },
  delete: (n, o) => inner.delete(n, o),
  list(p, o) {
    calls.list++;
    return inner.list(p, o);
  },
  status: (o) => inner.status(o),
  close: () => inner.close(),
};

const server = await createKesServer({
  admin: env.SCALE_ADMIN,
  keyStore: store,
  tls: { cert: readFileSync(env.SCALE_CERT), key: readFileSync(env.SCALE_KEY) },
  log: { error: 'off', audit: 'off' },
  // Long expiries: the scenarios measure fetches per key, not the sweeps.
  cache: { expiryAnyMs: 3_600_000, expiryUnusedMs: 3_600_000 },
});
await server.listen(0, '127.0.0.1');
console.log(JSON.stringify({ port: new URL(server.url).port }));

function kib(field) {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
}
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'stats') continue;
  globalThis.gc?.();
  const m = process.memoryUsage();
  console.log(
    JSON.stringify({
      ...calls,
      rssMiB: kib('VmRSS') / 1024,
      peakRssMiB: kib('VmHWM') / 1024,
      heapMiB: m.heapUsed / 2 ** 20,
      heapTotalMiB: m.heapTotal / 2 ** 20,
      externalMiB: m.external / 2 ** 20,
    }),
  );
}
await server.close();
