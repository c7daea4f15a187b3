/**
 * The reference: cedar-wasm's own authorizer on the same policies (keyed by the same ids), entities and
 * context. Outcomes are compared as sets: decision, determining policies, erroring policies; or, when
 * cedar-wasm refuses the request (malformed or not valid for the schema), the engine must refuse too.
 */
import { preparsePolicySet, preparseSchema, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import type { DecisionRequest, PolicyEngine } from '../../../src/policy/engine.js';
import { PolicyInputError } from '../../../src/policy/errors.js';

export type Outcome = { kind: 'decision'; decision: 'allow' | 'deny'; reasons: string[]; errors: string[] } | { kind: 'refused'; message: string };

let counter = 0;

export class CedarOracle {
  private readonly setId = `oracle-${process.pid}-${counter++}`;
  constructor(
    policies: Record<string, string>,
    private readonly schemaName?: string,
  ) {
    const r = preparsePolicySet(this.setId, { staticPolicies: policies });
    if (r.type === 'failure') throw new Error(`oracle: ${r.errors.map((e) => e.message).join('; ')}`);
  }

  static schema(name: string, schema: string): string {
    const r = preparseSchema(name, schema);
    if (r.type === 'failure') throw new Error(`oracle schema: ${r.errors.map((e) => e.message).join('; ')}`);
    return name;
  }

  decide(req: DecisionRequest): Outcome {
    const a = statefulIsAuthorized({
      principal: req.principal,
      action: req.action,
      resource: req.resource,
      context: (req.context ?? {}) as never,
      entities: (req.entities ?? []) as never,
      preparsedPolicySetId: this.setId,
      ...(this.schemaName === undefined ? {} : { preparsedSchemaName: this.schemaName, validateRequest: true }),
    });
    if (a.type === 'failure') return { kind: 'refused', message: a.errors.map((e) => e.message).join('; ') };
    const d = a.response;
    return { kind: 'decision', decision: d.decision, reasons: [...d.diagnostics.reason].sort(), errors: d.diagnostics.errors.map((e) => e.policyId).sort() };
  }
}

export function engineOutcome(engine: PolicyEngine, req: DecisionRequest): Outcome {
  try {
    const d = engine.decide(req);
    return { kind: 'decision', decision: d.decision, reasons: [...d.reasons].sort(), errors: d.errors.map((e) => e.policyId).sort() };
  } catch (e) {
    if (e instanceof PolicyInputError) return { kind: 'refused', message: e.message };
    throw e;
  }
}

export function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'refused') return true;
  const o = b as typeof a;
  return a.decision === o.decision && a.reasons.join('\n') === o.reasons.join('\n') && a.errors.join('\n') === o.errors.join('\n');
}
