// Container health check: exits 0 when GET /v1/ready answers 200 (the server is up and
// its key store answers), 1 otherwise. Used by the Dockerfile's HEALTHCHECK; needs
// `api: {/v1/ready: {skip_auth: true}}` in the config, since it sends no client certificate.
// The URL is KES_HEALTHCHECK_URL, default https://127.0.0.1:7373/v1/ready.
//
// The server certificate is not verified: the check talks to the server in its own
// container over loopback, sends no credential and reads nothing but the status code,
// so there is nothing a man in the middle could learn or forge that matters.
import { request } from 'node:https';

const url = process.env.KES_HEALTHCHECK_URL || 'https://127.0.0.1:7373/v1/ready';
const req = request(url, { rejectUnauthorized: false, timeout: 4_000 }, (res) => {
  res.resume();
  if (res.statusCode !== 200) console.error(`kes health check: ${url}: HTTP ${res.statusCode}`);
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
req.on('error', (err) => {
  console.error(`kes health check: ${url}: ${err.message}`);
  process.exit(1);
});
req.end();
