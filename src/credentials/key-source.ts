/**
 * Where master keys come from: the environment or key files named in the config's `vault` block. Errors say
 * which variable or file is missing or malformed, never what it held.
 *
 *   const keys = loadMasterKeys({ env: process.env, masterKeyFile: cfg.vault.masterKeyFile, baseDir })
 *   const vault = await Vault.open(store.secrets, keys)
 */
import { resolve } from 'node:path';
import { MasterKeyInvalid, MasterKeyMissing } from './errors.js';
import { parseMasterKey, readMasterKeyFile } from './master-key.js';

export const MASTER_KEY_ENV = 'WARDEN_MASTER_KEY';
export const PREVIOUS_MASTER_KEY_ENV = 'WARDEN_PREVIOUS_MASTER_KEY';
export const NEW_MASTER_KEY_ENV = 'WARDEN_NEW_MASTER_KEY';

export interface KeySources {
  env: NodeJS.ProcessEnv;
  /** vault.masterKeyFile from the config. */
  masterKeyFile?: string | undefined;
  /** vault.previousKeyFiles from the config. */
  previousKeyFiles?: readonly string[];
  /** Relative key file paths resolve against this (the config file's directory). */
  baseDir?: string;
}

export interface MasterKeys {
  current: Buffer;
  previous: Buffer[];
}

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/** One key from an environment variable and/or a file; both given must agree. Undefined when neither is. */
function oneKey(envName: string, envValue: string | undefined, file: string | undefined, fileLabel: string): Buffer | undefined {
  const fromEnv = set(envValue) ? parseMasterKey(envValue, envName) : undefined;
  const fromFile = file === undefined ? undefined : readMasterKeyFile(file, `${fileLabel} ${file}`);
  if (fromEnv !== undefined && fromFile !== undefined) {
    const same = fromEnv.equals(fromFile);
    fromFile.fill(0);
    if (!same) throw new MasterKeyInvalid(`${envName} and ${fileLabel} hold different keys: give the master key in one place`);
  }
  return fromEnv ?? fromFile;
}

/** The current master key (WARDEN_MASTER_KEY or vault.masterKeyFile) and any previous ones still accepted for reading. */
export function loadMasterKeys(src: KeySources): MasterKeys {
  const at = (f: string): string => resolve(src.baseDir ?? '.', f);
  const file = src.masterKeyFile === undefined ? undefined : at(src.masterKeyFile);
  const current = oneKey(MASTER_KEY_ENV, src.env[MASTER_KEY_ENV], file, 'vault.masterKeyFile');
  if (current === undefined) {
    throw new MasterKeyMissing(
      `no vault master key: set ${MASTER_KEY_ENV} (32 bytes as hex or base64, e.g. from \`openssl rand -base64 32\`) or vault.masterKeyFile in the config`,
    );
  }
  const previous = (src.previousKeyFiles ?? []).map((f) => readMasterKeyFile(at(f), `vault.previousKeyFiles entry ${at(f)}`));
  const prevEnv = src.env[PREVIOUS_MASTER_KEY_ENV];
  if (set(prevEnv)) {
    prevEnv.split(',').forEach((k, i) => previous.push(parseMasterKey(k, `${PREVIOUS_MASTER_KEY_ENV} (key ${i + 1})`)));
  }
  return { current, previous };
}

/** The key to rotate to: --new-key-file or WARDEN_NEW_MASTER_KEY (both given must agree). */
export function loadNewMasterKey(env: NodeJS.ProcessEnv, newKeyFile?: string): Buffer {
  const key = oneKey(NEW_MASTER_KEY_ENV, env[NEW_MASTER_KEY_ENV], newKeyFile === undefined ? undefined : resolve(newKeyFile), '--new-key-file');
  if (key === undefined) throw new MasterKeyMissing(`no new master key: give --new-key-file FILE or set ${NEW_MASTER_KEY_ENV}`);
  return key;
}
