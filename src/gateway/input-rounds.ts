/**
 * Multi round-trip requests (2026-07-28) in front of upstreams that ask their client things mid-call
 * (elicitation, sampling, client roots). A stateless client cannot take a server-to-client request, so
 * when an upstream asks during a stateless call, the call is parked here and the client gets an
 * input-required result: the questions, and a `requestState` sealed by the gateway (the same seal as the
 * approval prompt's), naming the parked call and bound to the caller and the exact request. The retry's
 * `inputResponses` answer the upstream, and the call goes on, to its result or to the next question.
 *
 * A parked call lives in this process for at most `ttlMs`; a state that is altered, expired, another
 * caller's or another request's is refused with -32602 and never reaches the call.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { InputState, RequestStateCodec } from '../approvals/request-state.js';
import { canonicalJson } from '../audit/digest.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { Params } from '../protocol/jsonrpc.js';

/** Asks the stateless client something on behalf of an upstream; resolves with the client's answer. */
export type Asker = (method: string, params: Params | undefined) => Promise<Record<string, unknown>>;

interface Question {
  method: string;
  params: Params | undefined;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

interface Parked {
  id: string;
  owner: string;
  digest: string;
  /** The call's end: its result or its error (never rejects). */
  done: Promise<{ result?: Record<string, unknown>; error?: unknown }>;
  questions: Map<string, Question>;
  /** Wakes whoever waits for the call's next step (a new question). */
  wake: () => void;
  timer: NodeJS.Timeout;
  nextKey: number;
  /** Told when the call leaves this table (the caller's connections may be reaped again). */
  release: () => void;
}

/** The client capability a question needs. */
export const ASKED_CAPABILITY: Record<string, string> = { 'elicitation/create': 'elicitation', 'sampling/createMessage': 'sampling', 'roots/list': 'roots' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const invalidState = (why: string) => new WardenError('invalid_params', `requestState is not valid: ${why}`, JsonRpcCode.InvalidParams);

/**
 * What binds a state to one request: its method and what says what it does (the name, URI or reference,
 * and the arguments). Other params are not bound: a retry may carry fields the gateway does not know, which
 * the revision says to ignore.
 */
export function requestDigest(method: string, params: Params | undefined): string {
  const p = params ?? {};
  const bound = { method, name: p.name, uri: p.uri, ref: p.ref, arguments: p.arguments };
  return createHash('sha256').update(canonicalJson(bound)).digest('hex');
}

export class InputRounds {
  private readonly parked = new Map<string, Parked>();

  constructor(
    private readonly codec: RequestStateCodec,
    private readonly ttlMs = 5 * 60_000,
    private readonly max = 1_000,
  ) {}

  get size(): number {
    return this.parked.size;
  }

  /**
   * What a request's `requestState` is: a parked call's (authentic, unexpired, whoever's), an approval
   * prompt's (the approval step checks it), or neither: altered, expired or not the gateway's, refused.
   */
  kindOf(state: unknown): 'input' | 'approval' | 'invalid' {
    if (this.codec.openInput(state) !== undefined) return 'input';
    return this.codec.open(state) !== undefined ? 'approval' : 'invalid';
  }

  /** The refusal of a requestState that is neither kind. */
  static invalid(): WardenError {
    return invalidState('it was altered, has expired, or was not issued by this gateway');
  }

  /**
   * Runs a stateless request's upstream call; `start` receives the asker its upstream's questions go to.
   * Returns the call's result, or an input-required result if the upstream asks first.
   */
  async first(owner: string, digest: string, hold: () => () => void, start: (ask: Asker) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    if (this.parked.size >= this.max) throw new WardenError('session_limit', 'Too many calls wait for client input; try again later', JsonRpcCode.LimitExceeded, 503, { retryAfter: 1 });
    let wake = () => undefined as void;
    const p: Parked = {
      id: randomUUID(),
      owner,
      digest,
      done: undefined as never,
      questions: new Map(),
      wake: () => wake(),
      timer: setTimeout(() => this.drop(p, 'the client did not answer in time'), this.ttlMs),
      nextKey: 1,
      release: hold(),
    };
    p.timer.unref();
    const asked = new Promise<void>((resolve) => (wake = resolve));
    const ask: Asker = (method, params) =>
      new Promise((resolve, reject) => {
        p.questions.set(`${method.split('/')[0]}-${p.nextKey++}`, { method, params, resolve, reject });
        p.wake();
      });
    p.done = start(ask).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    this.parked.set(p.id, p);
    return this.step(p, asked);
  }

  /** A retry carrying `state`: answers the parked call's questions from `responses` and goes on with it. */
  async resume(owner: string, digest: string, state: unknown, responses: unknown): Promise<Record<string, unknown>> {
    const s = this.codec.openInput(state);
    if (s === undefined) throw invalidState('it was altered, has expired, or was not issued by this gateway');
    if (s.owner !== owner || s.digest !== digest) throw invalidState('it belongs to another caller or another request');
    const p = this.parked.get(s.id);
    if (p === undefined || p.owner !== owner || p.digest !== digest) throw invalidState('the call it continued has ended; send the request again without it');
    const answers = isObject(responses) ? responses : {};
    let wake = () => undefined as void;
    const asked = new Promise<void>((resolve) => (wake = resolve));
    p.wake = () => wake();
    for (const [key, q] of p.questions) {
      const answer = answers[key];
      if (!isObject(answer)) continue;
      p.questions.delete(key);
      q.resolve(answer);
    }
    return this.step(p, asked);
  }

  /**
   * A 2026-07-28 upstream answered input-required: the client gets its questions (each one it declared it can
   * answer; otherwise -32021 naming what is missing) and a state of ours that seals the upstream's own.
   */
  relay(owner: string, digest: string, upstream: string, result: Record<string, unknown>, declared: Record<string, unknown>): Record<string, unknown> {
    const requests = isObject(result.inputRequests) ? result.inputRequests : {};
    for (const q of Object.values(requests)) {
      const method = isObject(q) && typeof q.method === 'string' ? q.method : '';
      const needed = ASKED_CAPABILITY[method];
      if (needed === undefined) throw new WardenError('upstream_invalid_result', `Upstream "${upstream}" asked its client for ${method || 'something unknown'}`, JsonRpcCode.UpstreamInvalidResult);
      if (!isObject(declared[needed])) {
        throw new WardenError('client_capability_missing', `The call needs the client capability ${needed}`, JsonRpcCode.MissingClientCapability, 400, { requiredCapabilities: { [needed]: {} } });
      }
    }
    const upstreamState = typeof result.requestState === 'string' ? result.requestState : undefined;
    const exp = Math.floor((Date.now() + this.ttlMs) / 1000);
    const state = this.codec.sealInput({ id: '', owner, digest, exp, upstream, ...(upstreamState === undefined ? {} : { upstreamState }) });
    return { resultType: 'input_required', inputRequests: requests, requestState: state };
  }

  /** A retry of a 2026-07-28 upstream's question: the upstream and its own state, once ours checks out. */
  continued(owner: string, digest: string, state: unknown): { upstream: string; upstreamState?: string } | undefined {
    const s = this.codec.openInput(state);
    if (s?.upstream === undefined) return undefined;
    if (s.owner !== owner || s.digest !== digest) throw invalidState('it belongs to another caller or another request');
    return { upstream: s.upstream, ...(s.upstreamState === undefined ? {} : { upstreamState: s.upstreamState }) };
  }

  /** Waits for the call's next step: its end, or questions the client must answer. */
  private async step(p: Parked, asked: Promise<void>): Promise<Record<string, unknown>> {
    const next = p.questions.size > 0 ? 'asked' : await Promise.race([p.done.then(() => 'done' as const), asked.then(() => 'asked' as const)]);
    if (next === 'done') {
      this.forget(p);
      const { result, error } = await p.done;
      if (error !== undefined) throw error;
      return result!;
    }
    const inputRequests = Object.fromEntries([...p.questions].map(([key, q]) => [key, { method: q.method, ...(q.params ? { params: q.params } : {}) }]));
    const exp = Math.floor((Date.now() + this.ttlMs) / 1000);
    return { resultType: 'input_required', inputRequests, requestState: this.codec.sealInput({ id: p.id, owner: p.owner, digest: p.digest, exp } satisfies InputState) };
  }

  private drop(p: Parked, why: string): void {
    for (const q of p.questions.values()) q.reject(new WardenError('upstream_timeout', why, JsonRpcCode.UpstreamTimeout));
    p.questions.clear();
    this.forget(p);
  }

  private forget(p: Parked): void {
    if (!this.parked.delete(p.id)) return;
    clearTimeout(p.timer);
    p.release();
  }

  close(): void {
    for (const p of [...this.parked.values()]) this.drop(p, 'the gateway is stopping');
  }
}
