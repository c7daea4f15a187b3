/**
 * Master keys: 32 bytes, given as 64 hex digits, as base64 / base64url (44 or 43 characters), or (in a key
 * file only) as the 32 raw bytes. A key is known by its id, a fingerprint that is safe to print and store.
 *
 *   const key = parseMasterKey(process.env.WARDEN_MASTER_KEY!, 'WARDEN_MASTER_KEY')
 *   masterKeyId(key) // '3f1c0a9d52e7b846'
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MasterKeyInvalid } from './errors.js';

export const MASTER_KEY_BYTES = 32;
const ID_LABEL = 'mcp-warden/vault/master-key-id/v1\0';
const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL = /^[A-Za-z0-9_-]{43}$/;
const FORMAT = `a master key is ${MASTER_KEY_BYTES} bytes written as 64 hex digits or 44 base64 characters (e.g. the output of \`openssl rand -base64 32\`)`;

/** The first 16 hex digits of SHA-256 over a fixed label and the key: names the key, reveals nothing of it. */
export function masterKeyId(key: Buffer): string {
  checkMasterKey(key, 'master key');
  return createHash('sha256').update(ID_LABEL).update(key).digest('hex').slice(0, 16);
}

/** Throws MasterKeyInvalid unless `key` is 32 bytes and not a constant fill (all zeros, a repeated byte). */
export function checkMasterKey(key: Buffer, source: string): void {
  if (!Buffer.isBuffer(key) || key.length !== MASTER_KEY_BYTES) throw new MasterKeyInvalid(`${source} is malformed: ${FORMAT}`);
  if (key.every((b) => b === key[0])) throw new MasterKeyInvalid(`${source} is not a usable key: every byte is the same`);
}

/**
 * Decodes a master key from text (hex or base64, surrounding whitespace ignored) or, when `raw` is true and
 * the input is 32 bytes that are not text, from raw bytes. `source` names where it came from, for messages;
 * no message holds any of the input.
 */
export function parseMasterKey(input: string | Buffer, source: string, raw = false): Buffer {
  if (Buffer.isBuffer(input) && raw && input.length === MASTER_KEY_BYTES && !isPrintableAscii(input)) {
    const key = Buffer.from(input);
    checkMasterKey(key, source);
    return key;
  }
  const text = (Buffer.isBuffer(input) ? input.toString('latin1') : input).trim();
  if (text === '') throw new MasterKeyInvalid(`${source} is empty: ${FORMAT}`);
  let key: Buffer | undefined;
  if (HEX.test(text)) key = Buffer.from(text, 'hex');
  else if (BASE64.test(text)) key = Buffer.from(text, 'base64');
  else if (BASE64URL.test(text)) key = Buffer.from(text, 'base64url');
  if (key === undefined || key.length !== MASTER_KEY_BYTES) throw new MasterKeyInvalid(`${source} is malformed: ${FORMAT}`);
  checkMasterKey(key, source);
  return key;
}

/** Reads and decodes a key file; the file's bytes are zeroed after decoding. */
export function readMasterKeyFile(file: string, source = `master key file ${file}`): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new MasterKeyInvalid(`cannot read ${source}: ${code}`);
  }
  try {
    return parseMasterKey(bytes, source, true);
  } finally {
    bytes.fill(0);
  }
}

function isPrintableAscii(b: Buffer): boolean {
  return b.every((c) => (c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09);
}
