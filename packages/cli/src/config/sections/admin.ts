// `admin.identity`: an identity a client can have, or the documented `disabled`.
import { didYouMean } from '../suggest.js';
import { isMap, requireStr } from '../values.js';
import type { CheckContext } from '../values.js';

const HEX_IDENTITY = /^[0-9a-f]{64}$/;

/**
 * `admin.identity` must be an identity a client can have (64 lowercase hex digits) or
 * the documented `disabled`. Upstream takes any string, so a typo, an uppercase
 * identity or a pasted API key silently disables admin access; here each is an error.
 * The value is never echoed: a pasted API key is a secret.
 *
 * @returns the normalised identity (`disabled` in lowercase), or `''` when missing.
 */
export function checkAdmin(ctx: CheckContext): string {
  const path = ['admin', 'identity'];
  const admin = isMap(ctx.doc.admin) ? ctx.doc.admin : undefined;
  const value = requireStr(admin, path, ctx.problems).trim();
  if (value === '' || HEX_IDENTITY.test(value)) return value;
  if (value.toLowerCase() === 'disabled') return 'disabled';
  let message: string;
  if (/^[0-9a-fA-F]{64}$/.test(value)) {
    message =
      "has uppercase hex digits: write the identity in lowercase, as 'kes identity of' prints it (identities are compared exactly, so an uppercase one never matches and admin access would be silently disabled)";
  } else if (/^kes:v1:/i.test(value)) {
    message = "is an API key, not an identity: use the identity of the key ('kes identity of <API key>') and keep the key itself secret";
  } else if (/^[0-9a-fA-F]+$/.test(value)) {
    message = `must be 64 hex digits, not ${value.length}`;
  } else {
    message = `must be an identity (64 lowercase hex digits, as printed by 'kes identity of') or 'disabled' to turn admin access off${didYouMean(value, ['disabled'])}`;
  }
  ctx.problems.push({ path, message });
  return value;
}
