// `npm run pack`: the packages as they would be published, as tarballs in ./tarballs/
// (install (if needed), build (if a source changed), then `pnpm pack` each package:
// pnpm applies `publishConfig` and turns `workspace:*` into versions, which `npm pack`
// would not). Install them elsewhere with
//   npm install /path/to/kes-ts/tarballs/*.tgz
// (all of them in one command: they depend on each other and are not on the registry).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PNPM, buildIfChanged, ensureInstalled, root, run } from './bootstrap.mjs';

const out = join(root, 'tarballs');
ensureInstalled();
buildIfChanged();
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
for (const pkg of ['core', 'client', 'keystores', 'server', 'cli']) {
  run('npx', [...PNPM, 'pack', '--pack-destination', out], { cwd: join(root, 'packages', pkg), stdio: ['ignore', 'ignore', 'inherit'] });
}
for (const file of readdirSync(out).sort()) process.stdout.write(`${join(out, file)}\n`);
