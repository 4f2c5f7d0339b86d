// `kes policy info|ls|show`.
import { withClient } from '../client/connect.js';
import type { PolicyArgs } from '../commands/policy.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { formatDate, prefixPattern, printFields, printJson, printNames, withColor } from '../internal/output.js';
import { toWireJson } from '../internal/wire-json.js';

/** Runs one `kes policy` subcommand. */
export async function runPolicyCommand(sub: 'info' | 'ls' | 'show', args: PolicyArgs, ctx: CliContext): Promise<void> {
  const out = withColor(ctx, args.color);
  const json = args.json === true;
  const name = args.name ?? '';
  const subject = { kind: 'policy', name } as const;
  await withClient(args, ctx, async (conn) => {
    switch (sub) {
      case 'info': {
        const info = await conn.run((c) => c.describePolicy(name), subject);
        if (json) return printJson(ctx, toWireJson(info));
        printFields(out, [
          ['Name', info.name],
          ['Date', formatDate(info.createdAt)],
          ['Created by', info.createdBy === '' ? '-' : info.createdBy],
        ]);
        return;
      }
      case 'ls': {
        const names = await conn.run(async (c) => {
          const all: string[] = [];
          for await (const n of c.listPolicies(prefixPattern(args.pattern))) all.push(n);
          return all.sort();
        });
        if (json) return printJson(ctx, names);
        if (ctx.stdoutIsTTY) printNames(out, 'Policy', names);
        else for (const n of names) println(ctx.stdout, n);
        return;
      }
      case 'show': {
        const policy = await conn.run((c) => c.readPolicy(name), subject);
        // JSON when asked or when piped (as upstream): the rules as the server has them.
        if (json || !ctx.stdoutIsTTY) {
          const { allow, deny, createdAt, createdBy } = policy;
          return printJson(ctx, toWireJson({ allow, deny, createdAt, createdBy }));
        }
        const rules = (title: string, style: 'green' | 'red', list: readonly string[]) => {
          println(ctx.stdout, paint(out, 'bold', title));
          if (list.length === 0) println(ctx.stdout, paint(out, 'dim', '  (none)'));
          for (const p of list) println(ctx.stdout, `  ${paint(out, style, '·')} ${p}`);
        };
        rules('Allow:', 'green', policy.allow);
        rules('Deny:', 'red', policy.deny);
        println(ctx.stdout);
        printFields(out, [
          ['Date', formatDate(policy.createdAt)],
          ['Created by', policy.createdBy === '' ? '-' : policy.createdBy],
        ]);
        return;
      }
    }
  });
}
