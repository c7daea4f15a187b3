export { loadPolicyEngine, PolicyEngine, type DecisionRequest, type PolicyEngineOptions, type PolicyInfo } from './engine.js';
export { formatProblem, PolicyInputError, PolicyLoadError, type PolicyLoadErrorCode, type PolicyProblem } from './errors.js';
export { GatewayPolicy, loadGatewayPolicy, type Effect, type GatewayDecision, type GatewayPolicyOptions, type ReadArguments } from './gateway-policy.js';
export { CanonicalError, canonicalPath, canonicalUri, isUriLike } from './canonical.js';
export { canonicalPathArguments, type PathArguments } from './arguments.js';
export { ACTIONS, DEFAULT_ARGUMENTS, DEFAULT_PATH_ARGUMENTS, gatewaySchemaText, type ActionName } from './gateway-schema.js';
export type { EntityJson, EntityUidJson } from './input.js';
export { schemaTextToJson } from './schema-model.js';
export { LivePolicy, loadPolicyFiles, readPolicySources, type PolicyFilesOptions, type ReloadResult } from './live.js';
export type { PolicySource } from './load.js';
export type { Decision, PolicyError } from './policy-set.js';
export type { Access, ApprovalState, CallContext, Environment, IntegrityFacts, TaintFacts, Risk, ServerFacts, Subject, Target, TaskFacts, ToolClass } from './request.js';
export {
  caseFilePolicy,
  CaseFileError,
  evaluate,
  loadCaseFile,
  parseCaseFile,
  parseRequest,
  runCase,
  runCases,
  type CaseFile,
  type CaseResult,
  type EvaluateOptions,
  type Evaluation,
  type PolicyCase,
  type PolicyRequest,
} from './cases.js';
