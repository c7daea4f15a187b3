/**
 * The complete call an approver is shown, kept only while its request is pending, encrypted under the vault's
 * master key (envelope encryption: a fresh data key per call, wrapped by the master key; see
 * src/credentials/envelope.ts). Both AADs bind it to the request's id and digest, so a sealed call moved to
 * another request, or a request whose digest was edited, does not open: an approver is never shown one call
 * while approving another. The store holds the text `v1.<keyId>.<wrappedKey>.<iv>.<ciphertext>.<tag>`
 * (base64url parts); it deletes it when the request is decided, and `forgetCalls` once it has expired.
 *
 *   const sealer = CallSealer.fromKeys(loadMasterKeys(sources))
 *   const text = sealer.seal(r.id, r.digest, params)   // stored with the request
 *   sealer.open(r.id, r.digest, text)                  // the params, or throws SealedCallUnreadable
 */
import { checkMasterKey, masterKeyId, openEnvelope, sealEnvelope, type EnvelopeBinding, type MasterKey, type MasterKeys } from '../credentials/index.js';

const VERSION = 'v1';

/** A sealed call that cannot be opened: sealed under a key this process was not given, altered, or malformed. */
export class SealedCallUnreadable extends Error {
  override readonly name = 'SealedCallUnreadable';
}

function binding(id: string, digest: string): EnvelopeBinding {
  return {
    value: Buffer.from(JSON.stringify(['mcp-warden/approvals/call/v1', id, digest])),
    wrap: (keyId) => Buffer.from(JSON.stringify(['mcp-warden/approvals/call-key/v1', keyId, id, digest])),
  };
}

export class CallSealer {
  private constructor(
    private readonly current: MasterKey,
    private readonly keys: Map<string, MasterKey>,
  ) {}

  /** From the configured master keys (copies them: the caller may zero its buffers). */
  static fromKeys(keys: MasterKeys): CallSealer {
    checkMasterKey(keys.current, 'the current master key');
    const current = { id: masterKeyId(keys.current), key: Buffer.from(keys.current) };
    const all = new Map([[current.id, current]]);
    for (const k of keys.previous) {
      const id = masterKeyId(k);
      if (!all.has(id)) all.set(id, { id, key: Buffer.from(k) });
    }
    return new CallSealer(current, all);
  }

  seal(id: string, digest: string, params: Record<string, unknown>): string {
    const e = sealEnvelope(binding(id, digest), Buffer.from(JSON.stringify(params), 'utf8'), this.current);
    return [VERSION, e.keyId, ...[e.wrappedKey, e.iv, e.ciphertext, e.tag].map((b) => b.toString('base64url'))].join('.');
  }

  /** The params sealed for request `id` with `digest`. Throws SealedCallUnreadable. */
  open(id: string, digest: string, sealed: string): Record<string, unknown> {
    const parts = sealed.split('.');
    if (parts.length !== 6 || parts[0] !== VERSION) throw new SealedCallUnreadable('the sealed call is malformed');
    const master = this.keys.get(parts[1]!);
    if (master === undefined) throw new SealedCallUnreadable(`the call was sealed under master key ${parts[1]}, which is not one of the keys given`);
    const [wrappedKey, iv, ciphertext, tag] = parts.slice(2).map((p) => Buffer.from(p, 'base64url')) as [Buffer, Buffer, Buffer, Buffer];
    const plain = openEnvelope({ keyId: master.id, wrappedKey, iv, ciphertext, tag }, binding(id, digest), master);
    if (plain === undefined) throw new SealedCallUnreadable('the sealed call failed authentication (altered, or moved from another request)');
    try {
      return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
    } finally {
      plain.fill(0);
    }
  }

  /** Zeroes the copies of the keys; the sealer is unusable afterwards. */
  close(): void {
    for (const k of this.keys.values()) k.key.fill(0);
  }
}
