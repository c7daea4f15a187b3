/**
 * `warden scan`: reads the client configs, runs every rule, and returns findings with their place, why,
 * fix and framework mapping. The secret values found are returned apart (`secretValues`) so that output
 * can be scrubbed of them; no finding holds one.
 *
 *   const result = await scan({ paths: ['.'], home: process.env.HOME, cwd: process.cwd() })
 *   result.findings // [{ rule: 'hardcoded-secret', file, pointer: '/mcpServers/github/env/GITHUB_TOKEN', ... }]
 */
import { createHash } from 'node:crypto';
import { bypassHits, isGatewayEntry, reuseHits, type CrossHit } from './detect-cross.js';
import { findSecrets, type SecretHit } from './detect-secrets.js';
import { autoApproveHits, longLivedTokens, reachHits, transportHits, unpinnedHits, type Hit } from './detect-server.js';
import type { ParsedDocument } from './document.js';
import { candidates, readConfigs } from './read.js';
import type { ClientConfig, Finding, ServerEntry, UnreadableConfig } from './model.js';
import { scanRule } from './scan-rules.js';
import { fingerprint } from './values.js';

export interface ScanOptions {
  /** Files or folders; none: the known per-user locations and the current folder's project files. */
  paths: readonly string[];
  home: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Gateway URLs besides those of scanned warden.yaml files (an HTTP entry to one is not a bypass). */
  gatewayUrls?: readonly string[];
  now?: Date;
}

export interface ScanResult {
  configs: ClientConfig[];
  unreadable: UnreadableConfig[];
  findings: Finding[];
  /** Hard-coded secrets by server entry, for the migration. */
  secrets: Map<ServerEntry, SecretHit[]>;
  /** Every secret value found: what output must never contain. */
  secretValues: string[];
  documents: Map<string, ParsedDocument>;
}

function toFinding(
  hit: Hit,
  config: ClientConfig,
  server: ServerEntry | undefined,
  extra: Partial<Finding> = {},
): Finding {
  const rule = scanRule(hit.rule);
  const id = createHash('sha256')
    .update([hit.rule, config.file, hit.pointer, hit.key ?? '', extra.fingerprint ?? ''].join('\0'))
    .digest('hex')
    .slice(0, 16);
  return {
    rule: hit.rule,
    id: `${hit.rule}:${id}`,
    severity: hit.severity,
    file: config.file,
    pointer: hit.pointer,
    position: hit.position,
    ...(server ? { server: server.name } : {}),
    client: config.client,
    why: `${server ? `Server "${server.name}": ` : ''}${hit.detail}. ${rule.description}`,
    fix: rule.fix,
    mapping: rule.mapping,
    ...extra,
  };
}

export async function scanConfigs(
  read: { configs: ClientConfig[]; unreadable: UnreadableConfig[]; documents: Map<string, ParsedDocument> },
  opts: Pick<ScanOptions, 'home' | 'gatewayUrls' | 'now'>,
): Promise<ScanResult> {
  const now = opts.now ?? new Date();
  const findings: Finding[] = [];
  const gatewayUrls = [
    ...(opts.gatewayUrls ?? []),
    ...read.configs.flatMap((c) => (c.gatewayUrl ? [c.gatewayUrl] : [])),
  ];
  const secrets = new Map<ServerEntry, SecretHit[]>();
  const located: Array<{ config: ClientConfig; server: ServerEntry; hits: SecretHit[] }> = [];
  for (const config of read.configs) {
    for (const server of config.servers) {
      const hits = await findSecrets(server);
      secrets.set(server, hits);
      located.push({ config, server, hits });
      for (const h of hits) {
        // A secret in a project file is shared with everyone who clones the repository.
        const severity = config.scope === 'project' ? 'critical' : 'high';
        const where = h.slot.kind === 'arg' ? `argument ${h.slot.name}` : `${h.slot.kind} ${h.slot.name}`;
        const detail = `a credential is written in clear in ${where}${config.scope === 'project' ? ' of a project file that is shared with the repository' : ''}`;
        findings.push(
          toFinding(
            { rule: 'hardcoded-secret', severity, pointer: h.slot.pointer, position: h.slot.position, detail },
            config,
            server,
            { fingerprint: fingerprint(h.secrets[0]!), detector: h.detector },
          ),
        );
      }
      const viaGateway = isGatewayEntry(server, gatewayUrls);
      const perServer = [
        ...longLivedTokens(hits, now),
        ...transportHits(server, hits, viaGateway),
        ...unpinnedHits(server),
        ...reachHits(server, opts.home),
        ...autoApproveHits(server),
      ];
      for (const hit of perServer) findings.push(toFinding(hit, config, server));
    }
  }
  const cross: CrossHit[] = [...reuseHits(located), ...bypassHits(read.configs, gatewayUrls)];
  for (const hit of cross) findings.push(toFinding(hit, hit.config, hit.server));
  findings.sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.position.line - b.position.line ||
      a.position.column - b.position.column ||
      a.rule.localeCompare(b.rule),
  );
  const secretValues = [...new Set([...secrets.values()].flat().flatMap((h) => h.secrets))];
  return { ...read, findings, secrets, secretValues };
}

export async function scan(opts: ScanOptions): Promise<ScanResult> {
  const read = readConfigs(candidates(opts.paths, { home: opts.home, cwd: opts.cwd, env: opts.env ?? {} }));
  return scanConfigs(read, opts);
}
