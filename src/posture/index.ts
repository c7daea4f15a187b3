/** The posture module: scan of client configs, migration into the vault, readiness review. */
export { scan, scanConfigs, type ScanOptions, type ScanResult } from './scan.js';
export { renderJson, renderSarif, renderText, failsAt, scrubberOf, type RenderOptions } from './report-scan.js';
export { SCAN_RULES, type ScanRule } from './scan-rules.js';
export { SEVERITIES, isSeverity, type ClientConfig, type ClientKind, type Finding, type Severity } from './model.js';
export { migrate, MigrateError, type MigrateOptions, type MigrateReport, type MigrateStep, type SecretSink } from './migrate.js';
