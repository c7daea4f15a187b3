/** The posture module: scan of client configs, migration into the vault, readiness review. */
export { scan, scanConfigs, type ScanOptions, type ScanResult } from './scan.js';
export { renderJson, renderSarif, renderText, failsAt, scrubberOf, type RenderOptions } from './report-scan.js';
export { SCAN_RULES, type ScanRule } from './scan-rules.js';
export {
  SEVERITIES,
  isSeverity,
  severityAtLeast,
  type ClientConfig,
  type ClientKind,
  type Finding,
  type Severity,
} from './model.js';
export {
  migrate,
  MigrateError,
  type MigrateOptions,
  type MigrateReport,
  type MigrateStep,
  type SecretSink,
} from './migrate.js';
export { review } from './review.js';
export { pinSourceOf } from './review-pins.js';
export { renderReviewJson, renderReviewMarkdown } from './report-review.js';
export { REVIEW_CHECKS, type ReviewCheck } from './review-rules.js';
export type {
  AgentReadiness,
  PinRecord,
  PinSource,
  ReviewDeps,
  ReviewFinding,
  ReviewInput,
  ReviewReport,
  UpstreamReadiness,
  Verdict,
} from './review-model.js';
export { printable } from './values.js';
