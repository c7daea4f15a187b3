/**
 * What a tool does, for policy: access, destructive, open-world, risk, data classes. MCP annotations are
 * the server's own claims, so they count only where the operator set `trustAnnotations`; otherwise a tool
 * is assumed to write, destroy and reach the world at high risk. Operator overrides (name globs) come last.
 */
import type { ServerConfig, ToolClassConfig } from '../config/index.js';
import type { Risk, ServerFacts, ToolClass } from '../policy/index.js';

const UNTRUSTED: ToolClass = Object.freeze({ access: 'write', destructive: true, openWorld: true, risk: 'high', dataClasses: [] });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function serverFacts(name: string, s: ServerConfig): ServerFacts {
  return { name, environment: s.environment ?? 'prod', tenant: s.tenant, trustAnnotations: s.trustAnnotations === true, dataClasses: s.dataClasses ?? [] };
}

/** MCP's defaults: destructiveHint and openWorldHint are true unless said otherwise; readOnlyHint false. */
function fromAnnotations(a: Record<string, unknown>): ToolClass {
  if (a.readOnlyHint === true) return { access: 'read', destructive: false, openWorld: a.openWorldHint !== false, risk: 'low', dataClasses: [] };
  const destructive = a.destructiveHint !== false;
  const risk: Risk = destructive ? 'high' : 'medium';
  return { access: 'write', destructive, openWorld: a.openWorldHint !== false, risk, dataClasses: [] };
}

/**
 * `*` matches any run of characters, `?` one; everything else literally. The name comes from an upstream, so
 * no regular expression: this walk backs up only to the last `*`, O(glob x name) at worst.
 */
export function globMatches(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (g < glob.length && glob[g] !== '*' && (glob[g] === '?' || glob[g] === name[n])) {
      g++;
      n++;
    } else if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = n;
    } else if (star >= 0) {
      g = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

function apply(c: ToolClass, o: ToolClassConfig): ToolClass {
  return {
    access: o.access ?? c.access,
    destructive: o.destructive ?? c.destructive,
    openWorld: o.openWorld ?? c.openWorld,
    risk: o.risk ?? c.risk,
    dataClasses: o.dataClasses ?? c.dataClasses,
  };
}

/** Classifies one tool as its upstream lists it (`tool.name` is the upstream's own name). */
export function classifyTool(server: ServerConfig, tool: Record<string, unknown>): ToolClass {
  let c = server.trustAnnotations === true && isObject(tool.annotations) ? fromAnnotations(tool.annotations) : UNTRUSTED;
  for (const [glob, override] of Object.entries(server.tools ?? {})) {
    if (globMatches(glob, String(tool.name))) c = apply(c, override);
  }
  return c;
}
