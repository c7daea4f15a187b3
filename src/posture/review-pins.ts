/**
 * Tool pins in the review. The gateway's tool integrity keeps, per upstream, the definitions it served and
 * which one is pinned; a server can turn it off (`integrity: off`). Without pins in the store (a version
 * without tool integrity), the review says "pins unavailable" rather than calling every tool unpinned.
 */
import type { WardenConfig } from '../config/index.js';
import { reviewFinding } from './review-config.js';
import type { PinSource, ReviewFinding } from './review-model.js';

/** The store's pin list, when it has one. */
export const pinSourceOf = (store: unknown): PinSource | undefined => {
  const integrity = (store as { integrity?: Partial<PinSource> } | undefined)?.integrity;
  return typeof integrity?.list === 'function' ? (integrity as PinSource) : undefined;
};

export async function pinChecks(config: WardenConfig, pins: PinSource | undefined): Promise<ReviewFinding[]> {
  if (pins === undefined) {
    return [
      reviewFinding(
        'pins-unavailable',
        'gateway',
        'gateway',
        'pins unavailable: this store keeps no tool pins, so a changed tool description would be served as is',
      ),
    ];
  }
  const out: ReviewFinding[] = [];
  const records = await pins.list();
  for (const [name, s] of Object.entries(config.mcpServers)) {
    if (s.disabled) continue;
    const mode = (s as { integrity?: string }).integrity ?? 'trust-on-first-use';
    if (mode === 'off') {
      out.push(
        reviewFinding(
          'tools-unpinned',
          'upstream',
          name,
          '`integrity: off`: its tool descriptions are neither pinned nor scanned',
        ),
      );
      continue;
    }
    const own = records.filter((r) => r.upstream === name);
    const pending = own.filter((r) => r.state === 'pending');
    if (pending.length > 0)
      out.push(
        reviewFinding(
          'pins-pending',
          'upstream',
          name,
          `${pending.length} definition${pending.length === 1 ? '' : 's'} (${pending
            .slice(0, 3)
            .map((r) => r.name)
            .join(', ')}) wait for a review`,
        ),
      );
    const unreviewed = own.filter((r) => r.state === 'approved' && r.decidedBy === 'trust-on-first-use');
    if (unreviewed.length > 0 && (s.environment ?? 'prod') === 'prod') {
      out.push(
        reviewFinding(
          'pins-unreviewed',
          'upstream',
          name,
          `${unreviewed.length} definition${unreviewed.length === 1 ? ' was' : 's were'} pinned on first use and never reviewed by a person`,
        ),
      );
    }
  }
  return out;
}
