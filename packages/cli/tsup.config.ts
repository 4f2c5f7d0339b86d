import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.ts';

// Code splitting so that each command's implementation (loaded with `await import()`)
// is its own chunk and `kes identity` never loads the server.
export default defineConfig(baseConfig({ index: 'src/index.ts' }, { splitting: true }));
