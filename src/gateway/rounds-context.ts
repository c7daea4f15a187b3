/**
 * The multi round-trip handling of one stateless request (input-rounds.ts holds the parked calls): its
 * state is bound to the caller and the request, and the questions an upstream asks go only as far as the
 * client's `_meta` says it can answer.
 */
import { principalKey, type Principal } from '../identity/index.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcRequest } from '../protocol/jsonrpc.js';
import { META_CLIENT_CAPABILITIES, META_LOG_LEVEL } from '../protocol/revisions.js';
import { ASKED_CAPABILITY, InputRounds, requestDigest } from './input-rounds.js';
import type { RoundsContext } from './router.js';
import type { GatewaySession } from './session.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function roundsContext(rounds: InputRounds, session: GatewaySession, req: JsonRpcRequest, principal: Principal | null): RoundsContext {
  const owner = principal === null ? '' : principalKey(principal);
  const digest = requestDigest(req.method, req.params);
  const meta = req.params?._meta as Record<string, unknown> | undefined;
  const declared = (meta?.[META_CLIENT_CAPABILITIES] ?? {}) as Record<string, unknown>;
  const hold = () => {
    // A parked call keeps the caller's connections: they carry it.
    session.inFlight++;
    return () => {
      session.inFlight--;
      session.lastSeen = Date.now();
    };
  };
  const state = req.params?.requestState;
  return {
    first: (start) =>
      rounds.first(owner, digest, hold, (ask) =>
        start((method, params) => {
          const needed = ASKED_CAPABILITY[method];
          const urlMode = method === 'elicitation/create' && params?.mode === 'url';
          const caps = needed === undefined ? undefined : declared[needed];
          if (typeof caps !== 'object' || caps === null || (urlMode && !('url' in caps))) {
            return Promise.reject(new WardenError('client_capability_missing', `The client did not declare ${needed ?? method}`, JsonRpcCode.MethodNotFound));
          }
          return ask(method, params);
        }),
      ),
    relay: (upstream, result) => rounds.relay(owner, digest, upstream, result, declared),
    upstreamMeta: modernUpstreamMeta(meta, declared),
    // Answers given up front (no state: no round of the gateway's) are the upstream's to read or ignore.
    ...(state === undefined && isObject(req.params?.inputResponses) ? { freshResponses: req.params.inputResponses } : {}),
    ...(state === undefined ? {} : resumeOf(rounds, owner, digest, state, req.params?.inputResponses)),
  };
}

/** A retry's way on: a parked call's state resumes it; an approval prompt's goes to the approval step; any other is refused. */
function resumeOf(rounds: InputRounds, owner: string, digest: string, state: unknown, inputResponses: unknown): Pick<RoundsContext, 'resume' | 'continued'> {
  const kind = rounds.kindOf(state);
  if (kind === 'approval') return {};
  if (kind === 'invalid') return { resume: () => Promise.reject(InputRounds.invalid()) };
  try {
    const continued = rounds.continued(owner, digest, state);
    if (continued !== undefined) return { continued: { ...continued, inputResponses } };
  } catch (err) {
    return { resume: () => Promise.reject(err) };
  }
  return { resume: () => rounds.resume(owner, digest, state, inputResponses) };
}

/**
 * What a stateless request tells a 2026-07-28 upstream of its client: the capabilities an upstream may ask
 * questions of (client roots are the operator's: never offered), and the log level it asked for.
 */
function modernUpstreamMeta(meta: Record<string, unknown> | undefined, declared: Record<string, unknown>): Record<string, unknown> {
  const caps = Object.fromEntries(['elicitation', 'sampling'].filter((k) => typeof declared[k] === 'object' && declared[k] !== null).map((k) => [k, declared[k]]));
  const level = meta?.[META_LOG_LEVEL];
  return { [META_CLIENT_CAPABILITIES]: caps, ...(typeof level === 'string' ? { [META_LOG_LEVEL]: level } : {}) };
}
