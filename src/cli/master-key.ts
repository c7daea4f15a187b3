/**
 * `warden secret master-key`: makes a new vault master key (32 random bytes, base64). With `--out FILE` it
 * writes it to a new file readable by its owner only (never over an existing one: a store sealed under the
 * old key would not open again) and prints the config line; else it prints the key, for
 * `export WARDEN_MASTER_KEY="$(warden secret master-key)"`. `warden init` makes its development key with it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { masterKeyId } from '../credentials/index.js';

/** Writes a new master key to `file` (mode 0600, refusing an existing file); returns its id. */
export function writeMasterKeyFile(file: string): string {
  const key = randomBytes(32);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return masterKeyId(key);
  } finally {
    key.fill(0);
  }
}

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

export function secretMasterKey(opts: { out?: string }, io: Io = process): number {
  if (opts.out === undefined) {
    const key = randomBytes(32);
    io.stdout.write(key.toString('base64') + '\n');
    key.fill(0);
    return 0;
  }
  const file = resolve(opts.out);
  let id: string;
  try {
    id = writeMasterKeyFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'EEXIST' ? 'it exists; a master key is never overwritten (what it sealed would not open again)' : code;
    io.stderr.write(`warden secret master-key: cannot write ${opts.out}: ${why}\n`);
    return 1;
  }
  const shown = relative(process.cwd(), file) || file;
  io.stdout.write(`wrote master key ${id} to ${shown} (mode 600); name it in the config, relative to the config file:\n`);
  io.stdout.write(`  vault:\n    masterKeyFile: ${shown}\n`);
  return 0;
}
