/**
 * Config `limits`: what any one client, principal or upstream may take of the gateway. Every limit has a
 * safe default. The per-principal caps sit below the gateway-wide ones (a per-principal cap left unset is
 * derived from its gateway-wide one, and one set at or above it is refused), so one principal can never
 * take every session or every call slot of an upstream and lock the others out.
 */
import { z } from 'zod';

const count = () => z.number().int().positive();
const ms = () => z.number().int().positive();

export const LimitsSchema = z
  .strictObject({
    /** Largest request body a client may send. */
    maxBodyBytes: count().default(4 * 1024 * 1024),
    /** Deepest nesting of arrays and objects in any JSON from outside: client bodies and upstream messages. */
    maxJsonDepth: z.number().int().min(8).max(1000).default(64),
    callTimeoutMs: ms().default(60_000),
    sessionIdleMs: ms().default(30 * 60_000),
    /** Sessions open at once, gateway-wide. */
    maxSessions: count().default(1_000),
    /** Sessions one principal may hold open; default: half of maxSessions, at most 100. */
    maxSessionsPerPrincipal: count().optional(),
    /** Sessions one principal may open a minute (a token bucket: bursts of up to this many). */
    sessionsPerMinutePerPrincipal: count().default(60),
    /** Requests one principal may have in flight at once, over all its sessions. */
    maxConcurrentCallsPerPrincipal: count().optional(),
    /** Requests in flight to one upstream at once, over every session. */
    maxConcurrentCallsPerUpstream: count().default(256),
    /** Upstream processes (stdio connections) running at once, gateway-wide; the least recently used idle one makes room. */
    maxProcesses: count().default(64),
    /** Upstream processes one principal's connections may hold (default: half of maxProcesses, at most 32). */
    maxProcessesPerPrincipal: count().optional(),
    /** An upstream connection with no request for this long is closed (a stdio process exits); the next use restarts it. */
    upstreamIdleMs: ms().default(5 * 60_000),
    /** Largest message an upstream may send: a stdio line, an HTTP body, an SSE event. */
    maxUpstreamMessageBytes: count().default(16 * 1024 * 1024),
    /** Notifications relayed per second from one upstream connection; more are dropped. */
    maxUpstreamNotificationsPerSecond: count().default(500),
    /** Time for a client to send a request's headers. */
    headersTimeoutMs: ms().default(10_000),
    /** Time for a client to send a whole request, headers and body. */
    requestTimeoutMs: ms().default(30_000),
    /** How long an idle keep-alive connection stays open between requests. */
    idleTimeoutMs: ms().default(65_000),
  })
  .superRefine((l, ctx) => {
    type PerPrincipal = 'maxSessionsPerPrincipal' | 'maxConcurrentCallsPerPrincipal' | 'maxProcessesPerPrincipal';
    const below = (key: PerPrincipal, cap: 'maxSessions' | 'maxConcurrentCallsPerUpstream' | 'maxProcesses') => {
      const v = l[key];
      if (v !== undefined && l[cap] > 1 && v >= l[cap]) {
        const message = `must be below limits.${cap} (${l[cap]}), so that one principal cannot take them all`;
        ctx.addIssue({ code: 'custom', path: [key], message });
      }
    };
    below('maxSessionsPerPrincipal', 'maxSessions');
    below('maxConcurrentCallsPerPrincipal', 'maxConcurrentCallsPerUpstream');
    below('maxProcessesPerPrincipal', 'maxProcesses');
    if (l.headersTimeoutMs > l.requestTimeoutMs) {
      ctx.addIssue({ code: 'custom', path: ['headersTimeoutMs'], message: 'must not exceed limits.requestTimeoutMs' });
    }
  })
  .transform((l) => ({
    ...l,
    maxSessionsPerPrincipal: l.maxSessionsPerPrincipal ?? derived(l.maxSessions, 100),
    maxConcurrentCallsPerPrincipal: l.maxConcurrentCallsPerPrincipal ?? derived(l.maxConcurrentCallsPerUpstream, 64),
    maxProcessesPerPrincipal: l.maxProcessesPerPrincipal ?? derived(l.maxProcesses, 32),
  }));

/** Half of a gateway-wide cap, at most `ceiling` (and at least 1). */
function derived(cap: number, ceiling: number): number {
  return Math.max(1, Math.min(ceiling, Math.floor(cap / 2)));
}

export type LimitsConfig = z.output<typeof LimitsSchema>;
