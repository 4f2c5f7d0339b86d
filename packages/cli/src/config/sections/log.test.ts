import { describe, expect, it } from 'vitest';
import { isConfigError, parseConfigText } from '../index.js';
import { parseLogLevel, parseSize } from './log.js';

describe('parseLogLevel', () => {
  it('parses upstream level spellings', () => {
    expect(parseLogLevel(undefined)).toBe('INFO');
    expect(parseLogLevel('on')).toBe('INFO');
    expect(parseLogLevel('OFF')).toBe('off');
    expect(parseLogLevel('debug')).toBe('DEBUG');
    expect(parseLogLevel('INFO+2')).toBe('WARN');
    expect(parseLogLevel('ERROR+1')).toBe('off');
    expect(parseLogLevel('-4')).toBe('DEBUG');
    expect(parseLogLevel('8')).toBe('ERROR');
    expect(parseLogLevel('loud')).toBeUndefined();
  });
});

describe('parseSize', () => {
  it('reads bytes and units', () => {
    expect(parseSize(0)).toBe(0);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('100MiB')).toBe(100 * 1024 * 1024);
    expect(parseSize('1 GB')).toBe(1e9);
    expect(parseSize('512kib')).toBe(512 * 1024);
    expect(parseSize('10M')).toBeUndefined();
    expect(parseSize('-1')).toBeUndefined();
    expect(parseSize(1.5)).toBeUndefined();
  });
});

const base = 'admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore: {memory: {}}\n';

function problems(text: string): readonly string[] {
  try {
    parseConfigText(text);
  } catch (e) {
    if (isConfigError(e)) return e.problems;
    throw e;
  }
  return [];
}

describe('log.audit_file', () => {
  it('maps every field, resolving the path against the config directory', () => {
    const c = parseConfigText(
      `${base}log:\n  audit: off\n  audit_file: {path: audit/kes.log, fail_closed: true, max_size: 64MiB, max_files: 3, fsync: true}\n`,
      { baseDir: '/etc/kes' },
    );
    expect(c.options.log.auditFile).toEqual({
      path: '/etc/kes/audit/kes.log',
      failClosed: true,
      fsync: true,
      maxSizeBytes: 64 * 1024 * 1024,
      maxFiles: 3,
    });
    expect(c.options.log.audit).toBe('off');
  });

  it('is absent unless configured; defaults stay with the server', () => {
    expect(parseConfigText(base).options.log.auditFile).toBeUndefined();
    expect(parseConfigText(`${base}log: {audit_file: {path: /var/log/kes.log}}\n`).options.log.auditFile).toEqual({ path: '/var/log/kes.log' });
  });

  it('refuses what would silently change meaning', () => {
    expect(problems(`${base}log: {audit_file: {fail_closed: true}}\n`).join('\n')).toContain('log.audit_file.path: the audit file needs a path');
    expect(problems(`${base}log: {audit_file: {path: a.log, max_size: 10M}}\n`).join('\n')).toContain(
      "log.audit_file.max_size: '10M' is not a size (bytes, or a number with B, KB, MB, GB, KiB, MiB or GiB; 0 = never rotate)",
    );
    expect(problems(`${base}log: {audit_file: {path: a.log, max_files: -1}}\n`).join('\n')).toContain(
      "log.audit_file.max_files: '-1' is not a count: must be 0 or more",
    );
    // A misspelled field must not be ignored (fail_closed would silently be off).
    expect(problems(`${base}log: {audit_file: {path: a.log, failclosed: true}}\n`).join('\n')).toMatch(/failclosed.*fail_closed/);
  });
});
