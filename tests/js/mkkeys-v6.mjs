// Makes the test certificates that GnuPG cannot: node mkkeys-v6.mjs (in tests/js, after
// npm ci). Writes into ../data/keys, with no passphrase, and appends their fingerprints
// to fingerprints.txt (run tests/data/keys/mkkeys.sh first when remaking everything):
//   six     Six Example <six@example.org>      v6 Ed25519 + X25519 (RFC 9580); +sec
//   seven   Seven Example <seven@example.org>  v6 Ed25519 + X25519, second v6 recipient; +sec
//   aead4   Aead Four <aead4@example.org>      v4 Ed25519 + Cv25519 that advertises SEIPD v2; +sec
import { readFileSync, writeFileSync } from 'node:fs';
import * as openpgp from 'openpgp';

const out = new URL('../data/keys/', import.meta.url);
const made = [
  ['six', 'Six Example', 'six@example.org', { v6Keys: true }, { type: 'curve25519' }],
  ['seven', 'Seven Example', 'seven@example.org', { v6Keys: true }, { type: 'curve25519' }],
  ['aead4', 'Aead Four', 'aead4@example.org', { aeadProtect: true }, { type: 'ecc', curve: 'curve25519Legacy' }],
];
const lines = readFileSync(new URL('fingerprints.txt', out), 'utf8')
  .split('\n')
  .filter((l) => l && !made.some(([n]) => l.startsWith(n + ' ')));
for (const [name, who, email, config, kind] of made) {
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...kind,
    userIDs: [{ name: who, email }],
    format: 'armored',
    config,
  });
  writeFileSync(new URL(`${name}.asc`, out), publicKey);
  writeFileSync(new URL(`${name}.sec.asc`, out), privateKey);
  const key = await openpgp.readKey({ armoredKey: publicKey });
  lines.push(`${name} ${key.getFingerprint().toUpperCase()}`);
}
writeFileSync(new URL('fingerprints.txt', out), lines.join('\n') + '\n');
