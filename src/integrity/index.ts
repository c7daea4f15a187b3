/** Tool integrity: pinned definitions, quarantine of changed ones, poisoning checks (docs/integrity.md). */
export { definitionOf, definitionText, digestOf, type DefinitionKind } from './definition.js';
export { INTEGRITY_RULES, highest, severityRank, SEVERITIES, type Finding, type IntegrityRule, type Severity } from './rules.js';
export { otherToolIndex, scanDefinition, scanResultValue, type OtherTool, type ScanContext, type ScanResult } from './scan.js';
export { checkText, excerpt, hostAllowed } from './text-checks.js';
export {
  decidePin,
  factsOf,
  IntegrityGuard,
  NO_FACTS,
  type Assessed,
  type GuardOptions,
  type IntegrityEvent,
  type IntegrityFacts,
  type IntegrityMode,
  type IntegritySettings,
  type PinStatus,
} from './guard.js';
export { definitionDiff } from './diff.js';
export { TaintLedger, type Taint } from './taint.js';
