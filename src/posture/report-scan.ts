/**
 * Scan output: text for people, JSON for scripts, SARIF 2.1.0 for code-scanning UIs. Every renderer
 * works on a scrubbed copy: any secret value found by the scan is replaced by `[redacted:sha256:...]`
 * wherever it would appear (as is, JSON-escaped, URL- or base64-encoded), after the findings themselves
 * were already written without values. Two layers, so that a detail that slips a value in is still caught.
 */
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redactor } from '../credentials/index.js';
import { describeMapping, mappingTags } from './frameworks.js';
import { SEVERITIES, severityAtLeast, severityRank, type Finding, type Severity } from './model.js';
import type { ScanResult } from './scan.js';
import { SCAN_RULES } from './scan-rules.js';
import { fingerprint, printable } from './values.js';

export interface RenderOptions {
  cwd: string;
  version: string;
}

/** A redactor for the secret values of a scan, each named by its fingerprint. */
export function scrubberOf(secretValues: readonly string[]): Redactor {
  const r = new Redactor();
  r.add(secretValues.map((value) => ({ name: fingerprint(value), value })));
  return r;
}

const counts = (findings: readonly Finding[]): Record<Severity, number> =>
  Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<
    Severity,
    number
  >;

function summaryLine(result: ScanResult): string {
  const c = counts(result.findings);
  const servers = result.configs.reduce((n, cfg) => n + cfg.servers.length, 0);
  const bySeverity = [...SEVERITIES]
    .reverse()
    .filter((s) => c[s] > 0)
    .map((s) => `${c[s]} ${s}`);
  const files = `${result.configs.length} file${result.configs.length === 1 ? '' : 's'}`;
  return `warden scan: ${files}, ${servers} server${servers === 1 ? '' : 's'}, ${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}${bySeverity.length ? ` (${bySeverity.join(', ')})` : ''}`;
}

export function renderText(result: ScanResult, opts: RenderOptions): string {
  const display = (file: string) => {
    const rel = relative(opts.cwd, file);
    return rel.startsWith('..') ? file : rel;
  };
  const lines = [summaryLine(result), ''];
  for (const c of result.configs)
    lines.push(
      `  read ${display(c.file)} (${c.client}, ${c.scope}): ${c.servers.length} server${c.servers.length === 1 ? '' : 's'}`,
    );
  for (const u of result.unreadable) lines.push(`  skipped ${display(u.file)}: ${u.reason}`);
  if (result.configs.length === 0 && result.unreadable.length === 0) lines.push('  no MCP client config found');
  const sorted = [...result.findings].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  for (const f of sorted) {
    lines.push(
      '',
      `${f.severity.toUpperCase()} ${f.rule}  ${display(f.file)}:${f.position.line}:${f.position.column}  ${f.pointer}`,
      `  ${f.why}`,
      ...(f.fingerprint ? [`  secret: ${f.fingerprint}${f.detector ? ` (found by ${f.detector})` : ''}`] : []),
      `  fix: ${f.fix}`,
      `  maps to: ${describeMapping(f.mapping)}`,
    );
  }
  return printable(scrubberOf(result.secretValues).text(lines.join('\n') + '\n'));
}

export function renderJson(result: ScanResult, opts: RenderOptions): string {
  const doc = {
    tool: { name: 'mcp-warden', version: opts.version },
    summary: counts(result.findings),
    scanned: result.configs.map((c) => ({
      file: c.file,
      client: c.client,
      scope: c.scope,
      format: c.format,
      servers: c.servers.map((s) => s.name),
    })),
    unreadable: result.unreadable,
    findings: result.findings,
  };
  const scrub = scrubberOf(result.secretValues);
  return scrub.text(JSON.stringify(scrub.json(doc).value, null, 2)) + '\n';
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};
/** GitHub code scanning reads `security-severity` (0-10) to rank security alerts. */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: '0.0',
};
const pascal = (id: string) => id.replace(/(^|-)([a-z])/g, (_, _d: string, c: string) => c.toUpperCase());

export function renderSarif(result: ScanResult, opts: RenderOptions): string {
  const rules = SCAN_RULES.map((r) => ({
    id: r.id,
    name: pascal(r.id),
    shortDescription: { text: r.title },
    fullDescription: { text: r.description },
    help: {
      text: `${r.fix}\n\nMaps to: ${describeMapping(r.mapping)}`,
      markdown: `**Fix:** ${r.fix}\n\n**Maps to:** ${describeMapping(r.mapping)}`,
    },
    defaultConfiguration: { level: LEVEL[r.severity] },
    properties: {
      tags: mappingTags(r.mapping),
      precision: 'high',
      'security-severity': SECURITY_SEVERITY[r.severity],
      mapping: r.mapping,
    },
  }));
  const base = pathToFileURL(opts.cwd.endsWith('/') ? opts.cwd : opts.cwd + '/').href;
  const artifact = (file: string) => {
    const rel = relative(opts.cwd, file);
    return rel.startsWith('..') || rel === ''
      ? { uri: pathToFileURL(file).href }
      : { uri: rel.split('\\').join('/'), uriBaseId: 'SRCROOT' };
  };
  const results = result.findings.map((f) => ({
    ruleId: f.rule,
    ruleIndex: SCAN_RULES.findIndex((r) => r.id === f.rule),
    level: LEVEL[f.severity],
    message: { text: `${f.why} Fix: ${f.fix}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: artifact(f.file),
          region: { startLine: f.position.line, startColumn: f.position.column },
        },
        logicalLocations: [{ fullyQualifiedName: f.pointer, kind: 'member' }],
      },
    ],
    partialFingerprints: { 'wardenFindingId/v1': f.id },
    properties: {
      severity: f.severity,
      'security-severity': SECURITY_SEVERITY[f.severity],
      pointer: f.pointer,
      ...(f.server ? { server: f.server } : {}),
      client: f.client,
      ...(f.fingerprint ? { secretFingerprint: f.fingerprint } : {}),
      ...(f.detector ? { detector: f.detector } : {}),
      mapping: f.mapping,
    },
  }));
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'mcp-warden', version: opts.version, rules } },
        originalUriBaseIds: { SRCROOT: { uri: base } },
        results,
      },
    ],
  };
  const scrub = scrubberOf(result.secretValues);
  return scrub.text(JSON.stringify(scrub.json(sarif).value, null, 2)) + '\n';
}

/** The exit code for `--fail-on`: 1 when a finding is at or above the threshold. */
export const failsAt = (findings: readonly Finding[], threshold: Severity | undefined): boolean =>
  threshold !== undefined && findings.some((f) => severityAtLeast(f.severity, threshold));
