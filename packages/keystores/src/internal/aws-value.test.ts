import { describe, expect, it } from 'vitest';
import { decodeAwsSecret, encodeAwsSecret } from './aws-value.js';
import { awsErrorCode, isAwsNetworkError, sanitizeAwsError } from './aws-errors.js';

describe('aws-value', () => {
  it('stores UTF-8 values as SecretString (upstream layout) and others as SecretBinary', () => {
    expect(encodeAwsSecret(new TextEncoder().encode('{"bytes":"AA=="}'))).toEqual({ SecretString: '{"bytes":"AA=="}' });
    expect(encodeAwsSecret(new TextEncoder().encode('héllo \u{1F600}'))).toEqual({ SecretString: 'héllo \u{1F600}' });
    // A BOM is kept, not swallowed.
    expect(encodeAwsSecret(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]))).toEqual({ SecretString: '\u{FEFF}A' });
    const raw = new Uint8Array([0xc3, 0x28]);
    const enc = encodeAwsSecret(raw);
    expect(enc).toEqual({ SecretBinary: raw });
    raw[0] = 0; // the payload is a copy
    expect(enc).toEqual({ SecretBinary: new Uint8Array([0xc3, 0x28]) });
  });

  it('reads SecretString first, else SecretBinary, else nothing', () => {
    expect(decodeAwsSecret({ SecretString: 'ab', SecretBinary: new Uint8Array([1]) })).toEqual(new Uint8Array([0x61, 0x62]));
    const bin = new Uint8Array([1, 2]);
    const out = decodeAwsSecret({ SecretBinary: bin })!;
    expect(out).toEqual(bin);
    expect(out).not.toBe(bin);
    expect(decodeAwsSecret({})).toBeUndefined();
  });
});

describe('aws-errors', () => {
  it('reads the AWS error code from __type (with or without namespace) or name', () => {
    expect(awsErrorCode({ __type: 'com.amazonaws#ThrottlingException', name: 'X' })).toBe('ThrottlingException');
    expect(awsErrorCode({ name: 'ResourceNotFoundException' })).toBe('ResourceNotFoundException');
    expect(awsErrorCode(undefined)).toBe('');
  });

  it('tells transport failures from AWS answers', () => {
    expect(isAwsNetworkError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isAwsNetworkError(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toBe(true);
    expect(isAwsNetworkError({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } })).toBe(false);
    // Missing credentials are not a network problem.
    expect(isAwsNetworkError(Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }))).toBe(false);
    expect(isAwsNetworkError(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]))).toBe(true);
  });

  it('keeps code, status and request id only, and redacts secrets from the message', () => {
    const sdkError = Object.assign(new Error('echo: TOPSECRET and VE9QU0VDUkVU'), {
      name: 'InternalServiceError',
      $fault: 'server',
      $metadata: { httpStatusCode: 500, requestId: 'req-1' },
      $response: { body: 'TOPSECRET' },
    });
    const cause = sanitizeAwsError(sdkError, ['TOPSECRET', 'VE9QU0VDUkVU']);
    expect(cause.message).toBe('aws secretsmanager: InternalServiceError (HTTP 500): echo: [REDACTED] and [REDACTED]');
    expect(cause).toMatchObject({ code: 'InternalServiceError', status: 500, requestId: 'req-1' });
    expect(cause).not.toHaveProperty('$response');
    expect(cause.cause).toBeUndefined();
  });
});
