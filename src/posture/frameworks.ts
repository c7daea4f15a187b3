/**
 * The frameworks findings are mapped to, with their item names as published, so a report can print
 * "NHI2 Secret Leakage" rather than a bare code. Sources (see docs/posture.md):
 * - OWASP Top 10 for Agentic Applications 2026 (genai.owasp.org, December 2025)
 * - OWASP Non-Human Identities Top 10 2025 (owasp.org/www-project-non-human-identities-top-10)
 * - OWASP MCP Top 10, beta (owasp.org/www-project-mcp-top-10)
 * - CSA MAESTRO agentic threat-modelling layers (Cloud Security Alliance, February 2025)
 * - NIST AI RMF 1.0 (AI 100-1) core functions
 */
import type { FrameworkMapping } from './model.js';

export const ASI: Readonly<Record<string, string>> = {
  ASI01: 'Agent Goal Hijack',
  ASI02: 'Tool Misuse & Exploitation',
  ASI03: 'Identity & Privilege Abuse',
  ASI04: 'Agentic Supply Chain Vulnerabilities',
  ASI05: 'Unexpected Code Execution (RCE)',
  ASI06: 'Memory & Context Poisoning',
  ASI07: 'Insecure Inter-Agent Communication',
  ASI08: 'Cascading Failures',
  ASI09: 'Human-Agent Trust Exploitation',
  ASI10: 'Rogue Agents',
};

export const NHI: Readonly<Record<string, string>> = {
  NHI1: 'Improper Offboarding',
  NHI2: 'Secret Leakage',
  NHI3: 'Vulnerable Third-Party NHI',
  NHI4: 'Insecure Authentication',
  NHI5: 'Overprivileged NHI',
  NHI6: 'Insecure Cloud Deployment Configurations',
  NHI7: 'Long-Lived Secrets',
  NHI8: 'Environment Isolation',
  NHI9: 'NHI Reuse',
  NHI10: 'Human Use of NHI',
};

export const MCP_TOP10: Readonly<Record<string, string>> = {
  MCP01: 'Token Mismanagement & Secret Exposure',
  MCP02: 'Privilege Escalation via Scope Creep',
  MCP03: 'Tool Poisoning',
  MCP04: 'Software Supply Chain Attacks & Dependency Tampering',
  MCP05: 'Command Injection & Execution',
  MCP06: 'Prompt Injection via Contextual Payloads',
  MCP07: 'Insufficient Authentication & Authorization',
  MCP08: 'Lack of Audit and Telemetry',
  MCP09: 'Shadow MCP Servers',
  MCP10: 'Context Injection & Over-Sharing',
};

export const MAESTRO: Readonly<Record<string, string>> = {
  L1: 'Foundation Models',
  L2: 'Data Operations',
  L3: 'Agent Frameworks',
  L4: 'Deployment & Infrastructure',
  L5: 'Evaluation & Observability',
  L6: 'Security & Compliance',
  L7: 'Agent Ecosystem',
};

/** `ASI03 Identity & Privilege Abuse; NHI2 Secret Leakage; ...`: one line for text and Markdown reports. */
export function describeMapping(m: FrameworkMapping): string {
  const named = (codes: string[], names: Readonly<Record<string, string>>) =>
    codes.map((c) => `${c} ${names[c] ?? ''}`.trim());
  return [
    ...named(m.asi, ASI),
    ...named(m.nhi, NHI),
    ...named(m.mcp, MCP_TOP10),
    `MAESTRO ${m.maestro} ${MAESTRO[m.maestro] ?? ''}`.trim(),
    `NIST AI RMF ${m.nist}`,
  ].join('; ');
}

/** Tags for SARIF rules (code-scanning UIs filter by them). */
export const mappingTags = (m: FrameworkMapping): string[] => [
  'security',
  ...m.asi,
  ...m.nhi,
  ...m.mcp,
  `MAESTRO-${m.maestro}`,
  `NIST-AI-RMF-${m.nist}`,
];
