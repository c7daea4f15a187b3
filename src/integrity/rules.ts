/**
 * The poisoning checks' findings: a stable id, a severity and where each maps in the OWASP MCP Top 10 (beta)
 * and the OWASP Top 10 for Agentic Applications 2026 (names in src/posture/frameworks.ts). Policies read the
 * ids (`resource.integrity.findings`) and the highest severity.
 */
export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
/** 0 for none, 1 (low) to 4 (critical): policies compare it (`resource.integrity.severityRank >= 3`). */
export const severityRank = (s: Severity | 'none'): number => (s === 'none' ? 0 : SEVERITIES.indexOf(s) + 1);

export interface IntegrityRule {
  id: string;
  severity: Severity;
  title: string;
  /** OWASP MCP Top 10 and Agentic Top 10 items. */
  refs: readonly string[];
}

const rule = (id: string, severity: Severity, title: string, refs: string[]): IntegrityRule => ({ id, severity, title, refs });

export const INTEGRITY_RULES: Readonly<Record<string, IntegrityRule>> = Object.fromEntries(
  [
    rule('model-instruction', 'high', 'instructions aimed at the model (ignore previous, before using this tool, ...)', ['MCP03', 'MCP06', 'ASI01']),
    rule('conceal-from-user', 'high', 'asks the model to hide something from the user', ['MCP03', 'ASI01', 'ASI09']),
    rule('instruction-block', 'high', 'an <IMPORTANT>, <system> or similar block addressed to the model', ['MCP03', 'MCP06', 'ASI01']),
    rule('secret-access', 'critical', 'asks for keys, credentials or sensitive files (~/.ssh, .env, mcp.json, ...)', ['MCP01', 'MCP03', 'MCP10', 'ASI03']),
    rule('context-exfiltration', 'high', 'asks for the conversation, the system prompt or other tools\' output', ['MCP10', 'MCP03', 'ASI01']),
    rule('exfiltration-parameter', 'high', 'a parameter meant to carry context out (sidenote, conversation_history, ...)', ['MCP10', 'MCP03', 'ASI02']),
    rule('unicode-tag', 'critical', 'invisible Unicode tag or variation-selector characters (hidden text)', ['MCP03', 'MCP06', 'ASI01']),
    rule('unicode-zero-width', 'high', 'zero-width characters inside text', ['MCP03', 'MCP06', 'ASI01']),
    rule('unicode-bidi', 'high', 'bidirectional override characters (text shown differently than read)', ['MCP03', 'MCP06', 'ASI09']),
    rule('hidden-comment', 'medium', 'an HTML comment or padding that hides text from a reader', ['MCP03', 'ASI01']),
    rule('outsized-description', 'medium', 'a description longer than integrity.maxDescriptionChars', ['MCP03', 'ASI01']),
    rule('unknown-url', 'medium', 'a URL to a host not in integrity.allowedHosts', ['MCP10', 'ASI02']),
    rule('shadowing-reference', 'high', "mentions another server's tool or the server itself (cross-server shadowing)", ['MCP03', 'MCP09', 'ASI02']),
    rule('shadowing-name', 'low', "has the same name as another server's tool", ['MCP03', 'MCP09', 'ASI02']),
    rule('credential-parameter', 'low', 'a parameter that asks for a credential (password, api_key, token)', ['MCP01', 'ASI03']),
  ].map((r) => [r.id, r]),
);

/** One finding: which rule, where in the definition (or result), and a short, printable excerpt. */
export interface Finding {
  id: string;
  severity: Severity;
  refs: readonly string[];
  /** `description`, `inputSchema.properties.path.description`, `content[0].text`, ... */
  where: string;
  /** At most 120 printable characters around the match (hidden characters shown as \u{...}). */
  excerpt: string;
}

export function highest(findings: readonly { severity: Severity }[]): Severity | 'none' {
  let best = 0;
  for (const f of findings) best = Math.max(best, severityRank(f.severity));
  return best === 0 ? 'none' : SEVERITIES[best - 1]!;
}
