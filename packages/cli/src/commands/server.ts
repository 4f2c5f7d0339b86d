// `kes server`: flags only; the implementation is loaded when the command runs.
import type { Argv, CommandModule } from 'yargs';
import { checkWorkerCount } from '../config/sections/document.js';
import type { CliContext } from '../internal/context.js';

/** Parsed `kes server` flags. */
export interface ServerArgs {
  readonly config?: string;
  readonly addr?: string;
  readonly port?: number;
  readonly cert?: string;
  readonly key?: string;
  readonly root?: string;
  readonly auth?: string;
  readonly dev?: boolean;
  readonly json?: boolean;
  readonly workers?: number;
}

/** The `kes server` command module. */
export function serverCommand(ctx: CliContext): CommandModule<object, ServerArgs> {
  return {
    command: 'server',
    describe: 'Start a KES server',
    builder: (y: Argv) =>
      y
        .usage(
          [
            'Usage:',
            '  kes server --config FILE [--addr IP:PORT] [--port PORT] [--workers N]',
            '  kes server --cert CERTIFICATE --key PRIVATEKEY --root ROOT_IDENTITY [--port 7373] [--config FILE]',
            '  kes server --dev [--addr IP:PORT] [--port PORT]',
          ].join('\n'),
        )
        .options({
          config: { type: 'string', describe: 'Config file (YAML)' },
          addr: { type: 'string', describe: 'Listen address [IP]:PORT (default 0.0.0.0:7373; overrides the config file)' },
          port: { type: 'number', describe: 'Port of the listen address (default 7373)' },
          cert: { type: 'string', describe: 'TLS certificate file (overrides tls.cert)' },
          key: { type: 'string', describe: 'TLS private key file (overrides tls.key)' },
          root: { type: 'string', describe: 'Admin identity (overrides admin.identity)' },
          auth: { type: 'string', choices: ['on', 'off'], describe: 'Verify client certificates against the CA (overrides tls.auth)' },
          dev: { type: 'boolean', describe: 'Development mode: in-memory keys, throw-away certificate and admin API key' },
          json: { type: 'boolean', describe: 'Write structured JSON logs (default when stdout is not a terminal)' },
          workers: {
            type: 'number',
            describe:
              'Server processes sharing the port (default: one per available CPU; 1 = a single process; overrides workers: in the config file)',
          },
        })
        .check((a) => {
          for (const k of ['config', 'addr', 'cert', 'key', 'root', 'auth'] as const) {
            if (Array.isArray(a[k])) throw new Error(`--${k} may be given only once`);
          }
          if (Array.isArray(a.workers)) throw new Error('--workers may be given only once');
          if (a.workers !== undefined) {
            const why = checkWorkerCount(a.workers);
            if (why) throw new Error(`--workers ${why}`);
          }
          if (a.port !== undefined && (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535)) {
            throw new Error(`--port must be a port number (0–65535)`);
          }
          return true;
        }) as unknown as Argv<ServerArgs>,
    handler: async (args) => {
      const { runServer } = await import('../server/run.js');
      await runServer(args, ctx);
    },
  };
}
