// `kes identity info|ls`: what the server knows about identities.
import { withClient } from '../client/connect.js';
import type { IdentityRemoteArgs } from '../commands/identity.js';
import { paint, println } from '../internal/context.js';
import type { CliContext } from '../internal/context.js';
import { formatDate, prefixPattern, printFields, printJson, printNames, withColor } from '../internal/output.js';
import { toWireJson } from '../internal/wire-json.js';

/** `kes identity info [identity]`: the given identity, or the caller's own (with its policy's rules). */
export async function runIdentityInfo(args: IdentityRemoteArgs, ctx: CliContext): Promise<void> {
  const out = withColor(ctx, args.color);
  await withClient(args, ctx, async (conn) => {
    const id = args.identity;
    if (id !== undefined) {
      const info = await conn.run((c) => c.describeIdentity(id), { kind: 'identity', name: id });
      if (args.json) return printJson(ctx, toWireJson(info));
      printFields(out, [
        ['Identity', info.identity],
        ['Admin', info.admin ? paint(out, 'yellow', 'yes') : 'no'],
        ['Policy', info.policy === '' ? '-' : info.policy],
        ['Date', formatDate(info.createdAt)],
        ['Created by', info.createdBy === '' ? '-' : info.createdBy],
      ]);
      return;
    }
    const self = await conn.run((c) => c.describeSelf());
    if (args.json) return printJson(ctx, toWireJson(self));
    printFields(out, [
      ['Identity', self.identity],
      ['Admin', self.admin ? paint(out, 'yellow', 'yes') : 'no'],
      ['Policy', self.policy ? self.policy.name : '-'],
      ['Date', formatDate(self.createdAt)],
      ['Created by', self.createdBy === '' ? '-' : self.createdBy],
    ]);
    if (self.policy) {
      for (const [title, list] of [
        ['Allow', self.policy.allow],
        ['Deny', self.policy.deny],
      ] as const) {
        if (list.length === 0) continue;
        println(ctx.stdout, paint(out, 'bold', `${title}:`));
        for (const p of list) println(ctx.stdout, `  ${paint(out, title === 'Allow' ? 'green' : 'red', '·')} ${p}`);
      }
    }
  });
}

/** `kes identity ls [prefix]`. */
export async function runIdentityLs(args: IdentityRemoteArgs, ctx: CliContext): Promise<void> {
  const out = withColor(ctx, args.color);
  await withClient(args, ctx, async (conn) => {
    const ids = await conn.run(async (c) => {
      const all: string[] = [];
      for await (const n of c.listIdentities(prefixPattern(args.prefix))) all.push(n);
      return all.sort();
    });
    if (args.json) return printJson(ctx, ids);
    if (ctx.stdoutIsTTY) printNames(out, 'Identity', ids);
    else for (const n of ids) println(ctx.stdout, n);
  });
}
