/**
 * The policies the compiler cannot express, evaluated by cedar-wasm (stateful API: the set, and the
 * schema when there is one, are pre-parsed once). Called only when one of these policies' scope matches
 * the request, so a set that compiles fully never reaches cedar-wasm on the hot path.
 */
import { createHash } from 'node:crypto';
import { preparsePolicySet, preparseSchema, statefulIsAuthorized, type Schema } from '@cedar-policy/cedar-wasm/nodejs';
import { PolicyInputError, PolicyLoadError } from './errors.js';
import type { EntityJson, EntityUidJson } from './input.js';

export interface RawRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  context?: Record<string, unknown>;
  entities?: readonly EntityJson[];
}

export interface PartialDecision {
  decision: 'allow' | 'deny';
  reasons: string[];
  errors: { policyId: string; message: string }[];
}

export class WasmFallback {
  private readonly setId: string;
  private readonly schemaName: string | undefined;

  /** policies: id -> Cedar text. */
  constructor(policies: ReadonlyMap<string, string>, schema: Schema | undefined) {
    const staticPolicies = Object.fromEntries(policies);
    const digest = createHash('sha256').update(JSON.stringify([staticPolicies, schema ?? null])).digest('hex').slice(0, 24);
    this.setId = `warden-fallback-${digest}`;
    const r = preparsePolicySet(this.setId, { staticPolicies });
    if (r.type === 'failure') throw new PolicyLoadError('policy_parse', r.errors.map((e) => ({ message: e.message })));
    if (schema !== undefined) {
      this.schemaName = `warden-schema-${digest}`;
      const s = preparseSchema(this.schemaName, schema);
      if (s.type === 'failure') throw new PolicyLoadError('schema_invalid', s.errors.map((e) => ({ message: e.message })));
    }
  }

  evaluate(req: RawRequest): PartialDecision {
    const answer = statefulIsAuthorized({
      principal: req.principal,
      action: req.action,
      resource: req.resource,
      context: (req.context ?? {}) as never,
      entities: (req.entities ?? []) as never,
      preparsedPolicySetId: this.setId,
      ...(this.schemaName === undefined ? {} : { preparsedSchemaName: this.schemaName, validateRequest: false }),
    });
    if (answer.type === 'failure') throw new PolicyInputError(`cedar-wasm refused the request: ${answer.errors.map((e) => e.message).join('; ')}`);
    const { decision, diagnostics } = answer.response;
    return {
      decision,
      reasons: diagnostics.reason,
      errors: diagnostics.errors.map((e) => ({ policyId: e.policyId, message: e.error.message })),
    };
  }
}
