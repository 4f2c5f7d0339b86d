import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.ts';

export default defineConfig(
  baseConfig(
    {
      index: 'src/index.ts',
      memory: 'src/memory.ts',
      fs: 'src/fs.ts',
      vault: 'src/vault.ts',
      aws: 'src/aws.ts',
      gcp: 'src/gcp.ts',
      azure: 'src/azure.ts',
      gemalto: 'src/gemalto.ts',
      fortanix: 'src/fortanix.ts',
      entrust: 'src/entrust.ts',
    },
    // The AWS SDK stays an external, lazily imported dependency.
    { external: [/^@aws-sdk\//] },
  ),
);
