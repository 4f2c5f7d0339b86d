// The `key_versions` section (docs/key-rotation.md): off unless enabled, automatic rotation
// rules checked with exact messages, and typos refused instead of silently ignored.
import { describe, expect, it } from 'vitest';
import { isConfigError, parseConfigText } from '@kes/cli/config';
import type { ConfigError } from '@kes/cli/config';

const ADMIN = 'a'.repeat(64);
const base = (extra: string): string =>
  [`admin: {identity: ${ADMIN}}`, 'tls: {key: k.pem, cert: c.pem}', 'keystore: {memory: {}}', extra, ''].join('\n');

function problems(text: string): readonly string[] {
  try {
    parseConfigText(text, { file: 'kes.yml', env: {} });
  } catch (e) {
    expect(isConfigError(e)).toBe(true);
    return (e as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('key_versions', () => {
  it('is off when absent, so the server behaves as upstream', () => {
    expect(parseConfigText(base(''), { env: {} }).options.keyVersions).toBeUndefined();
  });

  it('reads enabled, rules in days or Go durations, and the check interval', () => {
    const c = parseConfigText(
      base(
        [
          'key_versions:',
          '  enabled: true',
          '  check_interval: 10m',
          '  auto_rotate:',
          '    - {keys: minio-*, every: 90d}',
          '    - {keys: backup, every: 720h}',
        ].join('\n'),
      ),
      { env: {} },
    );
    expect(c.options.keyVersions).toEqual({
      enabled: true,
      autoRotate: [
        { pattern: 'minio-*', everyMs: 90 * 86_400_000 },
        { pattern: 'backup', everyMs: 720 * 3_600_000 },
      ],
      autoRotateCheckMs: 600_000,
    });
  });

  it('refuses rules without enabled, bad patterns, periods that look like typos and unknown fields', () => {
    expect(
      problems(
        base(
          ['key_versions:', '  auto_rotate:', '    - {keys: "my key", every: 90s}', '    - {keys: ok, every: 30d}', '  check_interval: 5s'].join(
            '\n',
          ),
        ),
      ),
    ).toEqual([
      'kes.yml:5: key_versions.auto_rotate: needs key_versions.enabled: true',
      "kes.yml:6: key_versions.auto_rotate[0].keys: 'my key' is not a key name or pattern (e.g. minio-*)",
      'kes.yml:6: key_versions.auto_rotate[0].every: must be at least 1h (use e.g. 90d or 2160h)',
      'kes.yml:8: key_versions.check_interval: must be at least 1m',
    ]);
    const typo = problems(base(['key_versions:', '  enable: true'].join('\n')));
    expect(typo).toHaveLength(1);
    expect(typo[0]).toMatch(/^kes\.yml:5: key_versions\.enable: unknown field.*enabled/);
  });
});
