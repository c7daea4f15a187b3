/**
 * Reading the complete call of a request for an approver (the CLI, the page, the admin API): only while it
 * is pending and unexpired, and only with a master key that opens it. Every other case says why, so a
 * surface can show the reason instead of the call, and offer no approval for what it cannot show.
 */
import type { ApprovalRecord, ApprovalStore } from '../store/types.js';
import { jsonBytes } from './call-view.js';
import { SealedCallUnreadable, type CallSealer } from './sealed-call.js';

export type ShownCall =
  | { shown: true; params: Record<string, unknown>; bytes: number }
  | { shown: false; reason: string };

/** `now`: epoch milliseconds. `sealer` absent: this process was given no master key. */
export async function readShownCall(
  store: Pick<ApprovalStore, 'sealedCall'>,
  sealer: CallSealer | undefined,
  r: ApprovalRecord,
  now: number,
): Promise<ShownCall> {
  if (r.state !== 'pending') return { shown: false, reason: `the complete call is deleted once a request is decided (this one is ${r.state})` };
  if (Date.parse(r.expiresAt) <= now) return { shown: false, reason: 'the request has expired; its complete call is deleted' };
  const sealed = await store.sealedCall(r.id, new Date(now).toISOString());
  if (sealed === undefined) return { shown: false, reason: 'the complete call was not kept for this request' };
  if (sealer === undefined) {
    return { shown: false, reason: 'the complete call is encrypted under the vault master key, which is not available here: set WARDEN_MASTER_KEY or vault.masterKeyFile' };
  }
  try {
    const params = sealer.open(r.id, r.digest, sealed);
    return { shown: true, params, bytes: jsonBytes(params) };
  } catch (err) {
    if (!(err instanceof SealedCallUnreadable)) throw err;
    return { shown: false, reason: `the complete call cannot be opened: ${err.message}` };
  }
}
