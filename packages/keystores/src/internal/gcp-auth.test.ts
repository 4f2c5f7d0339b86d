import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GOOGLE_TOKEN_URL, parsePrivateKey, parseServiceAccountFile, signAssertion } from './gcp-auth.js';
import { endpointUrl } from './gcp-options.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('signAssertion', () => {
  it('is an RS256 JWT over header.claims that the public key verifies', () => {
    const account = {
      clientEmail: 'sa@p.iam.gserviceaccount.com',
      privateKeyId: 'kid1',
      privateKey: rsa.privateKey,
      tokenUrl: new URL(GOOGLE_TOKEN_URL),
    };
    const jwt = signAssertion(account, ['s1', 's2'], 1_700_000_000);
    const [h, c, sig] = jwt.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'kid1' });
    expect(JSON.parse(Buffer.from(c, 'base64url').toString())).toEqual({
      iss: 'sa@p.iam.gserviceaccount.com',
      scope: 's1 s2',
      aud: 'https://oauth2.googleapis.com/token',
      iat: 1_700_000_000,
      exp: 1_700_003_600,
    });
    expect(verify('sha256', Buffer.from(`${h}.${c}`), rsa.publicKey, Buffer.from(sig, 'base64url'))).toBe(true);
  });
});

describe('parsePrivateKey', () => {
  it('turns literal \\n into newlines (as upstream)', () => {
    expect(parsePrivateKey(pem.replaceAll('\n', '\\n'), 'k').asymmetricKeyType).toBe('rsa');
  });
  it('refuses non-RSA keys and garbage, naming the field only', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => parsePrivateKey(ec, 'credentials.privateKey')).toThrow(/^credentials\.privateKey is not a PEM-encoded RSA private key$/);
    expect(() => parsePrivateKey('secret-garbage', 'f')).toThrow(/^f is not a PEM-encoded RSA private key$/);
  });
});

describe('parseServiceAccountFile', () => {
  const good = { type: 'service_account', client_email: 'sa@x', private_key: pem, private_key_id: 'k' };
  it('reads a service-account key file; token_uri defaults to Google', () => {
    const a = parseServiceAccountFile(JSON.stringify(good), '/f.json');
    expect(a.clientEmail).toBe('sa@x');
    expect(a.tokenUrl.href).toBe(GOOGLE_TOKEN_URL);
    expect(parseServiceAccountFile(JSON.stringify({ ...good, token_uri: 'https://t.example/token' }), '/f.json').tokenUrl.href).toBe(
      'https://t.example/token',
    );
  });
  it.each([
    ['{', 'gcp: credentials file /f.json is not JSON'],
    ['[]', "gcp: credentials file /f.json: type 'undefined' is not supported (only 'service_account')"],
    [
      JSON.stringify({ type: 'external_account' }),
      "gcp: credentials file /f.json: type 'external_account' is not supported (only 'service_account')",
    ],
    [JSON.stringify({ ...good, client_email: '' }), "gcp: credentials file /f.json: 'client_email' is missing"],
    [JSON.stringify({ ...good, private_key: undefined }), "gcp: credentials file /f.json: 'private_key' is missing"],
    [JSON.stringify({ ...good, private_key: 'x' }), "gcp: credentials file /f.json: 'private_key' is not a PEM-encoded RSA private key"],
    [JSON.stringify({ ...good, token_uri: 'http://t/token' }), "gcp: credentials file /f.json: 'token_uri' must be an https URL"],
  ])('%s → %s', (text, message) => {
    expect(() => parseServiceAccountFile(text, '/f.json')).toThrow(message);
  });
});

describe('endpointUrl', () => {
  it.each([
    ['secretmanager.googleapis.com:443', 'https://secretmanager.googleapis.com/'],
    ['sm.example.net:8443', 'https://sm.example.net:8443/'],
    ['https://secretmanager.googleapis.com', 'https://secretmanager.googleapis.com/'],
    ['http://127.0.0.1:9000/base/', 'http://127.0.0.1:9000/base'],
  ])('%s → %s', (given, want) => {
    expect(endpointUrl(given).href).toBe(want);
  });
});
