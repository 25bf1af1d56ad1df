// OpenPGP.js opens one message: node decrypt.mjs SECRET-KEY.asc < message.asc > payload
// The key is read from its armored file; the payload is written as bytes to stdout.
import { readFileSync } from 'node:fs';
import * as openpgp from 'openpgp';

const [keyFile] = process.argv.slice(2);
const privateKey = await openpgp.readPrivateKey({ armoredKey: readFileSync(keyFile, 'utf8') });
const message = await openpgp.readMessage({ armoredMessage: readFileSync(0, 'utf8') });
const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
process.stdout.write(data);
