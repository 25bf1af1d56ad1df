// OpenPGP.js opens one message: node decrypt.mjs SECRET-KEY.asc [SIGNER.asc] < message.asc > payload
// The key is read from its armored file; the payload is written as bytes to stdout. With a
// signer's certificate, the message must carry a valid signature by one of its keys
// (expectSigned); "good signature by FINGERPRINT" goes to stderr.
import { readFileSync } from 'node:fs';
import * as openpgp from 'openpgp';

const [keyFile, signerFile] = process.argv.slice(2);
const privateKey = await openpgp.readPrivateKey({ armoredKey: readFileSync(keyFile, 'utf8') });
const message = await openpgp.readMessage({ armoredMessage: readFileSync(0, 'utf8') });
const options = { message, decryptionKeys: privateKey, format: 'binary' };
let signer;
if (signerFile) {
  signer = await openpgp.readKey({ armoredKey: readFileSync(signerFile, 'utf8') });
  options.verificationKeys = signer;
  options.expectSigned = true;
}
const { data, signatures } = await openpgp.decrypt(options);
if (signer) {
  await signatures[0].verified;
  const [key] = signer.getKeys(signatures[0].keyID);
  process.stderr.write(`good signature by ${key.getFingerprint()}\n`);
}
process.stdout.write(data);
