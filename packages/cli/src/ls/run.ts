// `kes ls [-i | -p] [PREFIX]`: keys, identities or policies, one name per line.
import { withClient } from '../client/connect.js';
import type { LsArgs } from '../commands/ls.js';
import { println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { prefixPattern, printJson, printNames } from '../internal/output.js';
import { UsageError } from '../internal/usage-error.js';

/** Runs `kes ls`. */
export async function runLs(args: LsArgs, ctx: CliContext): Promise<void> {
  if (args.identity && args.policy) throw new UsageError('-i/--identity and -p/--policy cannot be combined: list one kind at a time');
  const kind = args.identity ? 'identity' : args.policy ? 'policy' : 'key';
  const prefix = prefixPattern(args.prefix);
  await withClient(args, ctx, async (conn) => {
    const names = await conn.run(async (c) => {
      const list = kind === 'identity' ? c.listIdentities(prefix) : kind === 'policy' ? c.listPolicies(prefix) : c.listKeys(prefix);
      const all: string[] = [];
      for await (const n of list) all.push(n);
      return all.sort();
    });
    if (args.json) return printJson(ctx, names);
    if (ctx.stdoutIsTTY) printNames(ctx, kind === 'identity' ? 'Identity' : kind === 'policy' ? 'Policy' : 'Key', names);
    else for (const n of names) println(ctx.stdout, n);
  });
}
