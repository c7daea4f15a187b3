/**
 * What a task may use. The grant is decided by policy (action `start_task` on each Server asked for) and
 * may be narrower than the request: a tool whose server is refused is dropped. Calls under the task are
 * limited to the grant whatever else policy allows: a task token narrows authority, never widens it.
 */
import type { CallContext, GatewayPolicy, ServerFacts, Subject, TaskFacts } from '../policy/index.js';

export interface GrantRequest {
  purpose: string;
  /** Whole servers asked for. */
  servers: readonly string[];
  /** Single tools asked for, by the name clients see (`files__write_file`). */
  tools: readonly string[];
}

export interface Grant {
  servers: string[];
  tools: string[];
  /** What was asked for and not granted, with the reason. */
  refused: { item: string; reason: string }[];
}

export interface GrantContext {
  policy: GatewayPolicy;
  servers: ReadonlyMap<string, ServerFacts>;
  /** The server a tool's exposed name belongs to, or undefined if none could. */
  serverOfTool: (tool: string) => string | undefined;
  context: Omit<CallContext, 'arguments'>;
}

export function decideGrant(subject: Subject, req: GrantRequest, g: GrantContext): Grant {
  const refused: Grant['refused'] = [];
  const owners = new Map(req.tools.map((t) => [t, g.serverOfTool(t)]));
  const asked = [...new Set([...req.servers, ...[...owners.values()].filter((s): s is string => s !== undefined)])];
  const task = { id: 'pending', purpose: req.purpose, tools: req.tools, servers: req.servers };
  const allowed = new Set<string>();
  for (const name of asked) {
    const server = g.servers.get(name);
    if (server === undefined) {
      refused.push({ item: name, reason: 'no such server' });
      continue;
    }
    const d = g.policy.decide('start_task', subject, { kind: 'server', server }, { ...g.context, arguments: {}, task });
    if (d.effect === 'allow') allowed.add(name);
    else refused.push({ item: name, reason: d.reason });
  }
  const tools: string[] = [];
  for (const [tool, owner] of owners) {
    if (owner === undefined) refused.push({ item: tool, reason: 'no configured server serves this tool name' });
    else if (allowed.has(owner)) tools.push(tool);
    else if (!refused.some((r) => r.item === owner)) refused.push({ item: tool, reason: `server ${owner} was not granted` });
  }
  return { servers: req.servers.filter((s) => allowed.has(s)), tools, refused };
}

/** Whether a use falls inside a task's grant: the tool itself, or its whole server, was granted. */
export function inGrant(task: TaskFacts, server: string, tool?: string): boolean {
  return task.servers.includes(server) || (tool !== undefined && task.tools.includes(tool));
}
