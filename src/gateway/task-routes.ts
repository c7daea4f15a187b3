/**
 * Tasks passed through (2025-11-25 `tasks/*`, and `tasks/get`, `tasks/update`, `tasks/cancel` of the
 * 2026-07-28 `io.modelcontextprotocol/tasks` extension): a task an upstream created for a call is recorded
 * in the session (a stateless caller's own connections) that made the call, with the tool it came from.
 * Only that session finds it again: another principal asking for its id gets "not found", as for an id
 * that never existed. Each use of a task is decided like the call that created it (`call_tool` on its tool,
 * now: a policy that denies the tool since denies its task too), audited, and forwarded to its upstream.
 */
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { Params } from '../protocol/jsonrpc.js';
import type { Entry } from './catalog.js';

/** Tasks one session may hold at once: the oldest is forgotten first. */
const MAX_TASKS = 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The id of a task a call's result created: `task.taskId` (2025-11-25) or a `resultType: task` result's `taskId`. */
export function createdTaskId(result: Record<string, unknown>): string | undefined {
  const id = isObject(result.task) ? result.task.taskId : result.resultType === 'task' ? result.taskId : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 256 ? id : undefined;
}

export class SessionTasks {
  private readonly byId = new Map<string, Entry>();

  record(id: string, tool: Entry): void {
    this.byId.delete(id);
    this.byId.set(id, tool);
    if (this.byId.size > MAX_TASKS) this.byId.delete(this.byId.keys().next().value!);
  }

  /** The tool a task of this session came from; undefined for an id this session never saw. */
  origin(params: Params | undefined): { id: string; tool: Entry } {
    const id = params?.taskId;
    const tool = typeof id === 'string' ? this.byId.get(id) : undefined;
    if (tool === undefined) throw new WardenError('invalid_params', 'Task not found', JsonRpcCode.InvalidParams);
    return { id: id as string, tool };
  }

  has(id: unknown): boolean {
    return typeof id === 'string' && this.byId.has(id);
  }

  /** The upstreams holding this session's tasks, each with the ids it holds. */
  byUpstream(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const [id, tool] of this.byId) {
      let ids = out.get(tool.upstream);
      if (!ids) out.set(tool.upstream, (ids = new Set()));
      ids.add(id);
    }
    return out;
  }
}
