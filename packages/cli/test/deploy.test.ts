// deploy/ (docs/deploy.md), checked as far as a machine without a container runtime or a
// cluster allows: the Dockerfile's ENTRYPOINT + CMD and HEALTHCHECK, and the systemd
// unit's ExecStart and ExecReload, are parsed and run (each path mapped into a temp
// directory, the installed `kes` mapped to this repository's built CLI) against the
// config file shipped next to them; the Kubernetes manifests are validated against the
// Kubernetes API schemas (kubernetes-models) and cross-checked with the kes.yml they
// mount, and that kes.yml starts a server against the OpenBao of test/global-setup.ts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import jsyaml from 'js-yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { parseConfigText } from '@kes/cli/config';
import { baoAddr, baoSkipReason, mountKv, setUpAppRole, unmount } from '../../keystores/test/vault-harness.js';
import { runServer } from '../src/server/run.js';
import { testContext } from './helpers/context.js';
import { call, freePort, kesBin, killAll, repoRoot, runKes } from './helpers/spawn.js';

const deploy = join(repoRoot, 'deploy');
const built = existsSync(join(repoRoot, 'packages/cli/dist/index.js'));
const work = mkdtempSync(join(tmpdir(), 'kes-cli-deploy-'));
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });

afterAll(() => {
  killAll();
  rmSync(work, { recursive: true, force: true });
});

const read = (p: string): string => readFileSync(join(deploy, p), 'utf8');

/** Maps absolute paths of the target system into `root` (longest prefix first). */
function mapper(root: string, prefixes: readonly string[]): (p: string) => string {
  const sorted = [...prefixes].sort((x, y) => y.length - x.length);
  return (text) => sorted.reduce((t, p) => t.split(p).join(join(root, p)), text);
}

/** GET without a client certificate (as the kubelet or a health check calls). */
function anonymous(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every file below `dir`, relative to it. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

function runNode(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

// ----------------------------------------------------------------------------------------
// Docker

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Dockerfile instructions: comments dropped, `\` continuations joined. */
function dockerfile(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`cannot parse Dockerfile line: ${l}`);
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

describe('deploy/docker', () => {
  const all = dockerfile(read('docker/Dockerfile'));
  const finalStage = all.slice(all.map((i) => i.op).lastIndexOf('FROM'));
  const one = (op: string): string => {
    const found = finalStage.filter((i) => i.op === op);
    expect(found, op).toHaveLength(1);
    return found[0]!.args;
  };

  it('is a multi-stage build whose runtime stage runs as a numeric non-root user', () => {
    const froms = all.filter((i) => i.op === 'FROM');
    expect(froms.length).toBe(2);
    expect(froms[0]!.args).toMatch(/ AS build$/);
    const user = one('USER');
    expect(user).toMatch(/^[0-9]+(:[0-9]+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    // The runtime stage takes only the deployed CLI and the health check, no sources.
    const copies = finalStage.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toEqual(['--from=build /opt/kes /opt/kes', 'deploy/docker/healthcheck.mjs /opt/kes/healthcheck.mjs']);
    expect(all.some((i) => i.op === 'RUN' && i.args.includes('pnpm --filter @kes/cli deploy --prod /opt/kes'))).toBe(true);
    expect(existsSync(join(repoRoot, 'deploy/docker/healthcheck.mjs'))).toBe(true);
    // The build context leaves local installs and builds out (they would shadow the image's own).
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
  });

  describe.skipIf(!built)('CMD and HEALTHCHECK, run (built CLI)', () => {
    const root = join(work, 'docker');
    // In the image: `pnpm deploy` of @kes/cli is /opt/kes; the health check was copied beside it.
    const image: Record<string, string> = {
      node: process.execPath,
      '/opt/kes/bin/kes.js': kesBin,
      '/opt/kes/healthcheck.mjs': join(repoRoot, 'deploy/docker/healthcheck.mjs'),
    };
    const onHost = mapper(root, ['/etc/kes', '/var/lib/kes']);
    const exec = (args: string): string[] => (JSON.parse(args) as string[]).map((a) => image[a] ?? onHost(a));
    let port = 0;

    beforeAll(async () => {
      port = await freePort();
      mkdirSync(join(root, 'etc/kes/certs'), { recursive: true });
      mkdirSync(join(root, 'var/lib/kes'), { recursive: true });
      writeFileSync(join(root, 'etc/kes/certs/server.key'), serverCert.privateKeyPem);
      writeFileSync(join(root, 'etc/kes/certs/server.crt'), serverCert.certificatePem);
      const exposed = one('EXPOSE');
      const config = read('docker/kes.yml');
      // The container listens on the EXPOSEd port; the test on a free loopback port.
      expect(config).toContain(`address: 0.0.0.0:${exposed}\n`);
      writeFileSync(join(root, 'etc/kes/kes.yml'), onHost(config.replace(`0.0.0.0:${exposed}`, `127.0.0.1:${port}`)));
    });

    it('ENTRYPOINT + CMD start the server with the image config; the server writes only below /var/lib/kes', async () => {
      const before = filesBelow(root);
      const argv = [...exec(one('ENTRYPOINT')), ...exec(one('CMD'))];
      expect(argv[0]).toBe(process.execPath);
      const kes = runKes(argv.slice(2), { KES_ADMIN_IDENTITY: admin.identity });
      const rec = await kes.waitFor((r) => r.msg === 'server started');
      expect(rec.port).toBe(port);
      const url = `https://127.0.0.1:${port}`;
      expect((await call(url, 'POST', '/v1/key/create/docker-key', adminCert)).status).toBe(200);
      expect((await call(url, 'POST', '/v1/key/generate/docker-key', adminCert, '{}')).status).toBe(200);
      const written = filesBelow(root).filter((f) => !before.includes(f));
      expect(written.length).toBeGreaterThan(0);
      for (const f of written) expect(f.startsWith(join('var', 'lib', 'kes'))).toBe(true);

      // HEALTHCHECK: healthy while the server runs ...
      const health = exec(/^.*CMD (\[.*\])$/.exec(one('HEALTHCHECK'))![1]!);
      expect(health[0]).toBe(process.execPath);
      const env = { KES_HEALTHCHECK_URL: `${url}/v1/ready` };
      expect(await runNode(health.slice(1), env)).toEqual({ code: 0, stderr: '' });
      // ... and its default URL is the server's /v1/ready on the exposed port.
      expect(readFileSync(health[1]!, 'utf8')).toContain(`'https://127.0.0.1:${one('EXPOSE')}/v1/ready'`);

      kes.child.kill('SIGTERM');
      expect(await kes.exited()).toBe(0);
      // ... unhealthy once it is gone.
      const down = await runNode(health.slice(1), env);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain(`kes health check: ${url}/v1/ready: connect ECONNREFUSED`);
    });
  });
});

// ----------------------------------------------------------------------------------------
// systemd

/** A unit file as `section → key → values` (a key may repeat). */
function unitFile(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = new Map();
      out.set(head[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`cannot parse unit line: ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

describe('deploy/systemd', () => {
  const unitText = read('systemd/kes.service');
  const unit = unitFile(unitText);
  const service = unit.get('Service')!;
  const value = (k: string): string => {
    const v = service.get(k);
    expect(v, k).toHaveLength(1);
    return v![0]!;
  };
  const config = read('systemd/kes.yml');
  const credentials = '/run/credentials/kes.service';

  it('is hardened: a dynamic user, read-only system, no privileges or capabilities', () => {
    expect(value('DynamicUser')).toBe('yes');
    expect(value('ProtectSystem')).toBe('strict');
    expect(value('NoNewPrivileges')).toBe('yes');
    expect(value('CapabilityBoundingSet')).toBe('');
    expect(value('AmbientCapabilities')).toBe('');
    for (const k of ['ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectControlGroups'])
      expect(value(k), k).toBe('yes');
    expect(value('KillMode')).toBe('mixed');
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('gives the server exactly what kes.yml reads: credentials for tls.*, the state directory for the keys', () => {
    const parsed = jsyaml.load(config) as { tls: { key: string; cert: string }; keystore: { fs: { path: string } } };
    const loaded = (service.get('LoadCredential') ?? []).map((l) => l.split(':')[0]);
    expect(parsed.tls.key).toBe(`${credentials}/${loaded[0]}`);
    expect(parsed.tls.cert).toBe(`${credentials}/${loaded[1]}`);
    // With ProtectSystem=strict the only writable place is the StateDirectory.
    expect(parsed.keystore.fs.path.startsWith(`/var/lib/${value('StateDirectory')}/`)).toBe(true);
    expect(value('ExecStart')).toMatch(/ --config \/etc\/kes\/kes\.yml$/);
    for (const v of config.matchAll(/\$\{(\w+)\}/g)) expect(v[1]).toBe('KES_ADMIN_IDENTITY');
    expect(value('EnvironmentFile')).toBe('/etc/kes/kes.env');
  });

  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  if (!analyze) console.warn('[deploy test] systemd-analyze verify skipped: systemd-analyze is not installed');
  it.skipIf(!analyze)('passes systemd-analyze verify (the kes command mapped to this repository)', () => {
    const dir = join(work, 'systemd-verify');
    mkdirSync(dir, { recursive: true });
    // verify checks that the ExecStart binary exists: point it at an executable that does.
    writeFileSync(join(dir, 'kes.service'), unitText.replace('ExecStart=/usr/local/bin/kes ', `ExecStart=${process.execPath} ${kesBin} `));
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'kes.service')], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!built)('ExecStart starts the server; ExecReload reloads it; SIGTERM stops it (built CLI)', async () => {
    const root = join(work, 'systemd');
    const onHost = mapper(root, ['/etc/kes', credentials, '/var/lib/kes']);
    // What systemd prepares before ExecStart: the credentials, the state directory, the environment.
    mkdirSync(join(root, credentials), { recursive: true });
    mkdirSync(join(root, 'var/lib/kes'), { recursive: true });
    mkdirSync(join(root, 'etc/kes'), { recursive: true });
    writeFileSync(join(root, credentials, 'server.key'), serverCert.privateKeyPem);
    writeFileSync(join(root, credentials, 'server.crt'), serverCert.certificatePem);
    const port = await freePort();
    writeFileSync(join(root, 'etc/kes/kes.yml'), onHost(config.replace('0.0.0.0:7373', `127.0.0.1:${port}`)));
    const env = { KES_ADMIN_IDENTITY: admin.identity };

    const [bin, ...args] = value('ExecStart').split(/\s+/);
    expect(bin).toBe('/usr/local/bin/kes');
    const kes = runKes(args.map(onHost), env);
    await kes.waitFor((r) => r.msg === 'server started');
    const url = `https://127.0.0.1:${port}`;
    expect((await call(url, 'POST', '/v1/key/create/unit-key', adminCert)).status).toBe(200);
    expect(filesBelow(join(root, 'var/lib/kes')).length).toBeGreaterThan(0);

    expect(value('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    kes.child.kill('SIGHUP');
    await kes.waitFor((r) => r.msg === 'configuration reloaded');

    // KillMode=mixed: SIGTERM to the main process only; it must finish within TimeoutStopSec.
    kes.child.kill('SIGTERM');
    expect(await kes.exited()).toBe(0);
    expect(kes.stderr()).toContain('"msg":"server stopped"');
  });
});

// ----------------------------------------------------------------------------------------
// Kubernetes

type Manifest = { apiVersion: string; kind: string; metadata: { name: string } } & Record<string, any>;

const MODELS: Record<string, { validate(data: unknown): void }> = {
  'v1/ConfigMap': { validate: (d) => new ConfigMap(d as never).validate() },
  'v1/Service': { validate: (d) => new Service(d as never).validate() },
  'apps/v1/Deployment': { validate: (d) => new Deployment(d as never).validate() },
  'policy/v1/PodDisruptionBudget': { validate: (d) => new PodDisruptionBudget(d as never).validate() },
};

describe('deploy/kubernetes', () => {
  const files = readdirSync(join(deploy, 'kubernetes')).filter((f) => f.endsWith('.yaml'));
  const manifests: Manifest[] = files.flatMap((f) => jsyaml.loadAll(read(`kubernetes/${f}`)) as Manifest[]).filter((m) => m !== null);
  const find = (kind: string, name: string): Manifest => {
    const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
    if (!m) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
    return m;
  };
  const deployment = find('Deployment', 'kes');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const kesYml: string = find('ConfigMap', 'kes-config').data['kes.yml'];
  const config = jsyaml.load(kesYml) as Record<string, any>;

  it('every manifest is valid against the Kubernetes API schema of its kind', () => {
    expect(manifests.map((m) => `${m.apiVersion}/${m.kind}`).sort()).toEqual(Object.keys(MODELS).sort());
    for (const m of manifests) expect(() => MODELS[`${m.apiVersion}/${m.kind}`]!.validate(m), `${m.kind} ${m.metadata.name}`).not.toThrow();
  });

  it('the schema check catches mistakes (it is not a no-op)', () => {
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].ports[0].containerPort = '7373';
    expect(() => MODELS['apps/v1/Deployment']!.validate(broken)).toThrow(/containerPort must be integer/);
  });

  it('selectors, ports and the Service agree with the pods and with kes.yml', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    expect(find('Service', 'kes').spec.selector).toEqual(labels);
    expect(find('PodDisruptionBudget', 'kes').spec.selector.matchLabels).toEqual(labels);
    const port = container.ports.find((p: { name: string }) => p.name === 'https');
    expect(`0.0.0.0:${port.containerPort}`).toBe(config.address);
    expect(find('Service', 'kes').spec.ports).toEqual([{ name: 'https', port: port.containerPort, targetPort: 'https' }]);
    // Workers: one per CPU of the limit (Node counts the node's CPUs, not the limit).
    expect(String(config.workers)).toBe(container.resources.limits.cpu);
  });

  it('the mounted files are the ones kes.yml reads, and every ${VAR} it uses is set', () => {
    const mountOf = (volume: string): string => container.volumeMounts.find((m: { name: string }) => m.name === volume).mountPath;
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
    const args: string[] = container.args;
    expect(args).toEqual(['server', '--config', `${mountOf('config')}/kes.yml`]);
    expect(volume('config').configMap).toEqual({ name: 'kes-config', items: [{ key: 'kes.yml', path: 'kes.yml' }] });
    const tls = volume('tls').secret;
    expect(tls.secretName).toBe('kes-tls');
    expect(tls.defaultMode).toBe(0o440);
    const paths = tls.items.map((i: { path: string }) => `${mountOf('tls')}/${i.path}`);
    expect(paths.sort()).toEqual([config.tls.cert, config.tls.key].sort());
    for (const m of container.volumeMounts) expect(m.readOnly).toBe(true);
    const used = [...kesYml.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]).sort();
    expect(container.env.map((e: { name: string }) => e.name).sort()).toEqual([...new Set(used)]);
  });

  it('probes: readiness on /v1/ready (skip_auth in kes.yml), liveness and startup on /version, over HTTPS', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/v1/ready', port: 'https', scheme: 'HTTPS' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/version', port: 'https', scheme: 'HTTPS' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/version', port: 'https', scheme: 'HTTPS' });
    expect(config.api['/v1/ready']).toEqual({ skip_auth: true });
    // Startup waits out the start-time key-store check (30 s deadline).
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(30);
  });

  it('pods run as the image user, non-root, on a read-only root file system, without privileges', () => {
    const user = dockerfile(read('docker/Dockerfile'))
      .filter((i) => i.op === 'USER')
      .at(-1)!.args;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: Number(user.split(':')[0]),
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('docs/deploy.md creates every Secret and ConfigMap key the Deployment reads', () => {
    const doc = readFileSync(join(repoRoot, 'docs/deploy.md'), 'utf8');
    for (const e of container.env) {
      const ref = e.valueFrom.configMapKeyRef ?? e.valueFrom.secretKeyRef;
      const kind = e.valueFrom.configMapKeyRef ? 'configmap' : 'secret generic';
      expect(doc, `${e.name}`).toMatch(new RegExp(`kubectl create ${kind} ${ref.name} [^\\n]*(\\\\\\n[^\\n]*)*--from-literal=${ref.key}=`));
    }
    expect(doc).toContain('kubectl create secret tls kes-tls --cert=');
  });

  if (!baoAddr) console.warn(`[deploy test] kes.yml of the ConfigMap not started: OpenBao is not available: ${baoSkipReason}`);
  it.skipIf(!baoAddr)("the ConfigMap's kes.yml starts a server against Vault (OpenBao) that the probes and Prometheus can use", async () => {
    const root = join(work, 'k8s');
    const engine = await mountKv('v2');
    try {
      const role = await setUpAppRole({ ttl: '1h', maxTtl: '2h' });
      mkdirSync(join(root, 'etc/kes/tls'), { recursive: true });
      writeFileSync(join(root, 'etc/kes/tls/tls.key'), serverCert.privateKeyPem);
      writeFileSync(join(root, 'etc/kes/tls/tls.crt'), serverCert.certificatePem);
      const port = await freePort();
      // The site-specific values: this test's OpenBao, its mounts and a loopback port.
      const site = kesYml
        .replace('endpoint: https://vault.vault.svc:8200', `endpoint: ${baoAddr}`)
        .replace('engine: kv\n', `engine: ${engine}\n`)
        .replace('engine: approle\n', `engine: ${role.engine}\n`)
        .replace('0.0.0.0:7373', `127.0.0.1:${port}`);
      expect(site.split('\n').filter((l, i) => l !== kesYml.split('\n')[i])).toHaveLength(4);
      const file = join(root, 'etc/kes/config/kes.yml');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, mapper(root, ['/etc/kes/tls'])(site));
      const prometheus = ApiKey.generate();
      const env = {
        KES_ADMIN_IDENTITY: admin.identity,
        MINIO_IDENTITY: ApiKey.generate().identity,
        PROMETHEUS_IDENTITY: prometheus.identity,
        VAULT_ROLE_ID: role.roleId,
        VAULT_SECRET_ID: role.secretId,
      };
      expect(parseConfigText(readFileSync(file, 'utf8'), { file, env }).warnings).toEqual([]);
      // In-process, one worker (the pod runs `workers: 2` as a node:cluster primary).
      const server = await runServer({ config: file, workers: 1 }, testContext({ env }).ctx);
      try {
        const url = `https://127.0.0.1:${port}`;
        expect(await anonymous(`${url}${container.readinessProbe.httpGet.path}`)).toBe(200);
        expect(await anonymous(`${url}${container.livenessProbe.httpGet.path}`)).toBe(200);
        // Without a client certificate nothing else is served.
        expect(await anonymous(`${url}/v1/metrics`)).toBe(400);
        const scrape = await call(url, 'GET', '/v1/metrics', prometheus.createCertificate());
        expect(scrape.status).toBe(200);
        expect(scrape.body).toContain('kes_system_up_time');
        expect((await call(url, 'POST', '/v1/key/create/k8s-key', adminCert)).status).toBe(200);
      } finally {
        await server.stop();
      }
    } finally {
      await unmount(engine);
    }
  });
});
