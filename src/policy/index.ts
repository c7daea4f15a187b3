export { loadPolicyEngine, PolicyEngine, type DecisionRequest, type PolicyEngineOptions, type PolicyInfo } from './engine.js';
export { formatProblem, PolicyInputError, PolicyLoadError, type PolicyLoadErrorCode, type PolicyProblem } from './errors.js';
export type { EntityJson, EntityUidJson } from './input.js';
export type { PolicySource } from './load.js';
export type { Decision, PolicyError } from './policy-set.js';
