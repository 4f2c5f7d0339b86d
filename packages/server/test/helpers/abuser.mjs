// Child process of connection-abuse.test.ts: opens thousands of abusive connections to a KES
// server and holds them until told to stop, so that the server's memory and latency can be
// measured apart from the clients'. Plain JavaScript (run by `node` as it is, no TypeScript
// loader). Test-only code.
//
// Messages in:  { type: 'start', port, ca, cert, key, counts: { idle, trickleHeaders, trickleBody, halfOpen, noRead } }
//               { type: 'stop' }
// Messages out: { type: 'ready', open: { kind: count }, failed, resumed, ms }  { type: 'progress', open, ms }  { type: 'stopped', closedByServer: { kind: count } }
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** Connections opened at once: the server's accept queue and the handshakes are the bottleneck. */
const PARALLEL = 64;
/** A trickling client sends one byte this often. */
const TRICKLE_MS = 3_000;

const sockets = [];
const open = {};
const closedByServer = {};
let failed = 0;
let resumed = 0;
let stopping = false;
const timers = [];
/** Connections that send one more byte every TRICKLE_MS. */
const trickling = new Set();

function track(kind, socket) {
  sockets.push(socket);
  open[kind] = (open[kind] ?? 0) + 1;
  socket.on('error', () => undefined);
  socket.on('close', () => {
    if (!stopping) closedByServer[kind] = (closedByServer[kind] ?? 0) + 1;
  });
}

function tls(cfg) {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port: cfg.port,
      servername: 'localhost',
      ca: cfg.ca,
      cert: cfg.cert,
      key: cfg.key,
      session: cfg.session,
    });
    s.once('session', (session) => {
      cfg.session ??= session;
    });
    s.once('secureConnect', () => {
      s.off('error', reject);
      if (s.isSessionReused()) resumed++;
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** A TCP connection that sends the first bytes of a ClientHello and then nothing. */
function halfOpen(cfg) {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port: cfg.port }, () => {
      s.off('error', reject);
      // TLS record header (handshake, TLS 1.0 record version, length 512) and the start of a ClientHello.
      s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
      resolve(s);
    });
    s.once('error', reject);
  });
}

const OPENERS = {
  idle: (cfg) => tls(cfg),
  trickleHeaders: async (cfg) => {
    const s = await tls(cfg);
    s.write('GET /v1/status HTTP/1.1\r\nHost: kes\r\nX-Slow: ');
    trickling.add(s);
    return s;
  },
  trickleBody: async (cfg) => {
    const s = await tls(cfg);
    s.write('PUT /v1/key/encrypt/k HTTP/1.1\r\nHost: kes\r\nContent-Length: 100000\r\n\r\n{"plaintext":"');
    trickling.add(s);
    return s;
  },
  halfOpen: (cfg) => halfOpen(cfg),
  noRead: async (cfg) => {
    const s = await tls(cfg);
    // Pipelined requests whose responses (about 3 KB each) are never read.
    s.pause();
    s.write('GET /v1/api HTTP/1.1\r\nHost: kes\r\n\r\n'.repeat(20));
    return s;
  },
};

async function start(cfg) {
  const t0 = Date.now();
  const jobs = [];
  for (const [kind, n] of Object.entries(cfg.counts)) for (let i = 0; i < n; i++) jobs.push(kind);
  let next = 0;
  // One connection first: its TLS session ticket lets the others resume (cheaper handshakes).
  const first = await tls(cfg);
  await new Promise((r) => setTimeout(r, 200));
  first.destroy();
  const worker = async () => {
    while (next < jobs.length) {
      const kind = jobs[next++];
      try {
        track(kind, await OPENERS[kind](cfg));
      } catch {
        failed++;
      }
      if (sockets.length % 1000 === 0) process.send({ type: 'progress', open: sockets.length, ms: Date.now() - t0 });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  // Trickle: one byte per trickling connection and interval.
  timers.push(
    setInterval(() => {
      for (const s of trickling) if (!s.destroyed && s.writable) s.write('A');
    }, TRICKLE_MS),
  );
  process.send({ type: 'ready', open, failed, resumed, ms: Date.now() - t0 });
}

process.on('message', (msg) => {
  if (msg.type === 'start') {
    start(msg).catch((e) => {
      process.send({ type: 'error', message: String(e) });
    });
  } else if (msg.type === 'stop') {
    stopping = true;
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    process.send({ type: 'stopped', closedByServer }, () => process.exit(0));
  }
});
