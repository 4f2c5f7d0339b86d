// `npm run bundle`: the `kes` command as one file, bundle/kes.mjs, that runs with
// nothing but Node 20 (no node_modules): copy it anywhere, `node kes.mjs …`, or make it
// executable and put it on PATH as `kes`. Built from the sources with esbuild (the one
// tsup uses). The optional cloud SDKs stay out of it, as they are optional peers of
// @kes/keystores: a bundle that needs one finds it in a node_modules next to the file.
// `npm run bundle -- --outfile FILE` writes it elsewhere.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { ensureInstalled, root } from './bootstrap.mjs';

ensureInstalled();
// esbuild is a dependency of tsup, not of the workspace root: resolve it from there.
const esbuild = createRequire(createRequire(join(root, 'package.json')).resolve('tsup'))('esbuild');
const pkg = (name) => JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
const at = process.argv.indexOf('--outfile');
const outfile = at > 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]) : join(root, 'bundle', 'kes.mjs');
mkdirSync(dirname(outfile), { recursive: true });

/**
 * Two places read files next to the package at run time, which a single file cannot do:
 * - core loads node-forge's ASN.1 module lazily with createRequire(); the bundle imports
 *   it statically instead, so esbuild includes it;
 * - the server reads its version from ../package.json; the bundle writes it in.
 */
const inlineRuntimeReads = {
  name: 'kes-inline-runtime-reads',
  setup(build) {
    build.onLoad({ filter: /core[\\/]src[\\/]internal[\\/]asn1-forge\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const patched = `import __forgeAsn1 from 'node-forge/lib/asn1.js';\n${text.replace(/createRequire\(import\.meta\.url\)/, '((_id) => __forgeAsn1)')}`;
      if (patched.includes('createRequire(import.meta.url)') || !patched.includes('__forgeAsn1)'))
        throw new Error(`bundle: ${args.path} changed, update scripts/bundle.mjs`);
      return { contents: patched, loader: 'ts' };
    });
    build.onLoad({ filter: /server[\\/]src[\\/]handler\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const patched = text.replace(
        'const PACKAGE_VERSION = readPackageVersion();',
        `const PACKAGE_VERSION = ${JSON.stringify(pkg('server').version)};`,
      );
      if (patched === text) throw new Error(`bundle: ${args.path} changed, update scripts/bundle.mjs`);
      return { contents: patched, loader: 'ts' };
    });
  },
};

await esbuild.build({
  stdin: { contents: "import { main } from './packages/cli/src/main.ts';\nmain(process.argv.slice(2));\n", resolveDir: root, loader: 'ts' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  conditions: ['kes-source'],
  define: { KES_COMMIT: '""' },
  external: ['@aws-sdk/*', '@google-cloud/*', '@azure/*', 'google-auth-library'],
  // CommonJS dependencies (ajv, node-forge, prom-client) call require() for Node built-ins.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __kesCreateRequire } from 'node:module';\nconst require = __kesCreateRequire(import.meta.url);",
  },
  plugins: [inlineRuntimeReads],
  logLevel: 'warning',
});
process.stdout.write(`${outfile}\n`);
