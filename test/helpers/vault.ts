/** A store with a vault already holding the given secrets, and the master key file a gateway opens it with. */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MasterKeyRing, Vault } from '../../src/credentials/index.js';
import { openStore } from '../../src/store/index.js';

export interface SeededVault {
  /** The SQLite store file holding the secrets (give it to the gateway as `store`). */
  store: string;
  /** The master key file (give it to the gateway as `vault.masterKeyFile`). */
  keyFile: string;
  key: Buffer;
}

/** Writes a master key to `dir/master.key` and stores `secrets` (name -> value) in `dir/warden.db`. */
export async function seedVault(dir: string, secrets: Record<string, string>): Promise<SeededVault> {
  const key = randomBytes(32);
  const keyFile = join(dir, 'master.key');
  writeFileSync(keyFile, key.toString('hex'));
  const file = join(dir, 'warden.db');
  const store = await openStore(file);
  const vault = await Vault.open(store.secrets, { current: key });
  for (const [name, value] of Object.entries(secrets)) await vault.set({ name }, value);
  vault.close();
  await store.close();
  return { store: file, keyFile, key };
}

/** A master key ring with one fresh random key: what signing keys are sealed under in unit tests. */
export function testKeyRing(): MasterKeyRing {
  return MasterKeyRing.from({ current: randomBytes(32), previous: [] });
}
