import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, KesError, isKesError, type KesErrorCode } from './errors.js';
import { loadVectors } from '../../../test/support/index.js';

const vectors = loadVectors();
const docsPath = new URL('../../../docs/errors.md', import.meta.url);

/** Renders a catalogue message with placeholder arguments, for docs and matching. */
function sample(code: KesErrorCode): string {
  const entry = ERROR_CATALOGUE[code];
  if (typeof entry.message === 'string') return entry.message;
  return (entry.message as (...a: string[]) => string)('<1>', '<2>');
}

function renderDocs(): string {
  const rows = (Object.keys(ERROR_CATALOGUE) as KesErrorCode[]).map(
    (code) => `| \`${code}\` | ${ERROR_CATALOGUE[code].status} | \`${sample(code)}\` |`,
  );
  return [
    '# Errors',
    '',
    'Every error kes-ts produces is a `KesError` with a stable `code`. A server answers with the',
    'status and the exact wire message below, as the JSON body `{"message":"…"\\n}` (newline before',
    'the closing brace, like upstream). Messages with `<1>`/`<2>` carry the named argument (a key',
    'name, a method, an algorithm) — never a secret. Anything that is not in this table reaches a',
    'client as `500 internal server error`; the detail goes only to the server error log.',
    '',
    'This table is generated from `packages/core/src/errors.ts` and checked by its test',
    '(`UPDATE_DOCS=1 npx vitest run packages/core/src/errors.test.ts` rewrites it).',
    '',
    '| code | status | message |',
    '| --- | ---: | --- |',
    ...rows,
    '',
  ].join('\n');
}

describe('error catalogue', () => {
  it('contains every upstream error of vectors.json with its status', () => {
    const all = (Object.keys(ERROR_CATALOGUE) as KesErrorCode[]).map((code) => ({
      code,
      status: ERROR_CATALOGUE[code].status,
      message: ERROR_CATALOGUE[code].message,
    }));
    for (const c of vectors.error_messages.cases as { status: number; message: string }[]) {
      const hit = all.find((e) => {
        if (e.status !== c.status) return false;
        if (typeof e.message === 'string') return e.message === c.message;
        // Templated: the vector is an example; recover the argument(s) from the quotes.
        const args = [...c.message.matchAll(/'([^']*)'/g)].map((m) => m[1] ?? '');
        return args.length > 0 && (e.message as (...a: string[]) => string)(...args) === c.message;
      });
      expect(hit, `${c.status} ${c.message}`).toBeDefined();
    }
  });

  it('builds errors with code, status and message, recognised across copies', () => {
    const e = new KesError('ERR_KES_INVALID_KEY_NAME', ['a.b']);
    expect(e.code).toBe('ERR_KES_INVALID_KEY_NAME');
    expect(e.status).toBe(400);
    expect(e.message).toBe("key name 'a.b' is empty, too long or contains invalid characters");
    expect(isKesError(e)).toBe(true);
    expect(isKesError(e, 'ERR_KES_KEY_NOT_FOUND')).toBe(false);
    expect(e instanceof KesError).toBe(true);
    const cause = new Error('backend detail');
    const wrapped = new KesError('ERR_KES_READ_KEY_FAILED', [], { cause });
    expect(wrapped.cause).toBe(cause);
    expect(wrapped.message).toBe('failed to read key');
    // A KesError from another installed copy carries the same Symbol.for brand.
    const foreign = Object.assign(new Error('key does not exist'), { code: 'ERR_KES_KEY_NOT_FOUND' });
    Object.defineProperty(foreign, Symbol.for('kes.error'), { value: true });
    expect(isKesError(foreign, 'ERR_KES_KEY_NOT_FOUND')).toBe(true);
    expect(isKesError(new Error('x'))).toBe(false);
  });

  it('is documented in docs/errors.md', () => {
    const want = renderDocs();
    if (process.env.UPDATE_DOCS) writeFileSync(docsPath, want);
    expect(readFileSync(docsPath, 'utf8')).toBe(want);
  });
});
