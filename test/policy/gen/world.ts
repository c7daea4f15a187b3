/**
 * The random world the differential tests decide over: users in group hierarchies, tools on servers,
 * actions in action groups, attributes of every Cedar type (some optional, some absent), a context, and
 * a schema describing it all. With `chaos`, values take the wrong type now and then, entities go missing
 * from the slice and optional attributes disappear, so policies hit Cedar's runtime errors.
 */
import type { EntityJson } from '../../../src/policy/input.js';
import type { Rng } from './random.js';

export const STRINGS = ['', 'a', 'ab', 'abc', 'a*b', '*', 'x\\y', 'say "hi"', '/data/agent-a/f.txt', '/data/agent-b/../agent-a', 'acme', 'globex', 'é', 'A', 'read'];
export const LONGS = [0, 1, -1, 2, 3, 7, 10, 100, -100, 2 ** 31, 2 ** 52, -(2 ** 52), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 3037000499];
export const IPS = ['10.0.0.1', '10.0.0.0/8', '127.0.0.1', '127.0.0.1/8', '192.168.1.10/24', '::1', 'ff02::1', '2001:db8::/32', '224.0.0.1', '0.0.0.0/0', '10.1.2.3/16', '::', '1:2:3:4:5:6:7:8', 'fe80::1:2/64', '10.1.0.0/16', '192.168.1.0/24', '127.0.0.0/8', 'fe80::/64'];
export const DECIMALS = ['0.0', '1.5', '-1.5', '-0.5', '0.5', '2.25', '922337203685477.5807', '-922337203685477.5808', '10.0001', '0.1', '007.10'];
export const DATETIMES = ['2024-01-01', '2024-02-29T12:00:00Z', '1969-12-31T23:59:59.999Z', '2024-06-01T08:30:00+0200', '2024-06-01T08:30:00.500-0130', '0001-01-01', '9999-12-31T23:59:59Z', '1970-01-01', '2000-03-01T00:00:00+2359'];
export const DURATIONS = ['0ms', '1h', '-1d', '1d2h3m4s5ms', '90m', '-1ms', '9223372036854775807ms', '-9223372036854775808ms', '100000000d', '-36h15s', '86400000ms'];
/** Strings the constructors reject (runtime errors in unvalidated policies). */
export const BAD_EXT: Record<string, string[]> = {
  ip: ['1.2.3', '::ffff:1.2.3.4', '1.2.3.4/33', '01.2.3.4', '1.2.3.4/08', '1::2::3', 'x'],
  decimal: ['1.23456', '1.', '.5', 'abc', '922337203685477.5808', '-922337203685477.5809'],
  datetime: ['2024-02-30', '2023-02-29', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00+2400', '2024-01-01T00:00:00.12Z', '2024-1-01', '2024-01-01t00:00:00Z'],
  duration: ['', '-', '1h1d', '9223372036854775808ms', '1.5h', '+1h', '106751991168d'],
};
export const GOOD_EXT: Record<string, string[]> = { ip: IPS, decimal: DECIMALS, datetime: DATETIMES, duration: DURATIONS };

export const USERS = ['u0', 'u1', 'u2'];
export const GROUPS = ['g0', 'g1', 'g2', 'g3'];
export const SERVERS = ['s0', 's1'];
export const TOOLS = ['t0', 't1', 't2'];
export const ACTIONS = ['a0', 'a1', 'a2'];
export const ACTION_GROUPS = ['ag0', 'ag1'];
export const TAG_KEYS = ['k', 'env', 'x'];

export const SCHEMA = `
entity Group in [Group];
entity Server;
entity User in [Group] {
  name: String, age: Long, tenant: String, active: Bool, roles: Set<String>,
  profile: { level: Long, email?: String, ip?: ipaddr },
  manager?: User, score?: decimal, since?: datetime,
} tags Long;
entity Tool in [Server] { name: String, tenant: String, risk: Long, labels: Set<String>, owner: User, server: Server };
type Ctx = {
  path: String, depth: Long, n: Long, flags: Set<Long>,
  args: { mode: String, size?: Long, dir?: String },
  when: datetime, ttl: duration, src: ipaddr, amount: decimal, target?: User,
};
action ag0, ag1;
action a0 in [ag0] appliesTo { principal: [User], resource: [Tool], context: Ctx };
action a1 in [ag0, ag1] appliesTo { principal: [User], resource: [Tool], context: Ctx };
action a2 in [ag1] appliesTo { principal: [User], resource: [Tool], context: Ctx };
`;

export const uid = (type: string, id: string) => ({ type, id });
export const ref = (type: string, id: string) => ({ __entity: uid(type, id) });
const extn = (fn: string, arg: string) => ({ __extn: { fn, arg } });

export interface WorldOptions {
  /** Probability that a value has the wrong type, an entity is missing, a required attribute is absent. */
  chaos: number;
  /** Write extension values and entity refs in the schema-directed forms sometimes (plain string, {type,id}). */
  typedForms: boolean;
}

export class World {
  constructor(
    private readonly rng: Rng,
    private readonly opts: WorldOptions,
  ) {}

  private wrong(): boolean {
    return this.rng.chance(this.opts.chaos);
  }

  /** A random JSON value of some type other than the expected one. */
  anyValue(): unknown {
    const r = this.rng;
    switch (r.int(7)) {
      case 0:
        return r.pick(STRINGS);
      case 1:
        return r.pick(LONGS);
      case 2:
        return r.chance(0.5);
      case 3:
        return r.some(STRINGS, 0.2);
      case 4:
        return ref('User', r.pick(USERS));
      case 5:
        return { level: r.pick(LONGS) };
      default:
        return extn('decimal', r.pick(DECIMALS));
    }
  }

  private v<T>(make: () => T): T | unknown {
    return this.wrong() ? this.anyValue() : make();
  }

  private ext(fn: 'ip' | 'decimal' | 'datetime' | 'duration'): unknown {
    const arg = this.rng.pick(GOOD_EXT[fn === 'ip' ? 'ip' : fn] as string[]);
    return this.opts.typedForms && this.rng.chance(0.3) ? arg : extn(fn, arg);
  }

  private entityRef(type: string, id: string): unknown {
    return this.opts.typedForms && this.rng.chance(0.3) ? uid(type, id) : ref(type, id);
  }

  /** attrs with optional ones present with probability 0.6, required ones dropped only under chaos. */
  private attrs(spec: Record<string, [boolean, () => unknown]>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, [required, make]] of Object.entries(spec)) {
      if (required ? this.wrong() : !this.rng.chance(0.6)) continue;
      out[k] = this.v(make);
    }
    return out;
  }

  user(id: string): EntityJson {
    const r = this.rng;
    const e: EntityJson = {
      uid: uid('User', id),
      attrs: this.attrs({
        name: [true, () => r.pick(STRINGS)],
        age: [true, () => r.pick(LONGS)],
        tenant: [true, () => r.pick(['acme', 'globex'])],
        active: [true, () => r.chance(0.7)],
        roles: [true, () => r.some(['read', 'write', 'admin', 'a*b'], 0.4)],
        profile: [true, () => this.attrs({ level: [true, () => r.pick(LONGS)], email: [false, () => r.pick(STRINGS)], ip: [false, () => this.ext('ip')] })],
        manager: [false, () => this.entityRef('User', r.pick(USERS))],
        score: [false, () => this.ext('decimal')],
        since: [false, () => this.ext('datetime')],
      }),
      parents: r.some(GROUPS, 0.35).map((g) => uid('Group', g)),
    };
    if (r.chance(0.4)) e.tags = Object.fromEntries(r.some(TAG_KEYS, 0.5).map((k) => [k, this.v(() => r.pick(LONGS))]));
    return e;
  }

  tool(id: string): EntityJson {
    const r = this.rng;
    return {
      uid: uid('Tool', id),
      attrs: this.attrs({
        name: [true, () => r.pick(STRINGS)],
        tenant: [true, () => r.pick(['acme', 'globex'])],
        risk: [true, () => r.int(5)],
        labels: [true, () => r.some(['read', 'write', 'prod', 'destructive'], 0.4)],
        owner: [true, () => this.entityRef('User', r.pick(USERS))],
        server: [true, () => this.entityRef('Server', r.pick(SERVERS))],
      }),
      parents: r.some(SERVERS, 0.5).map((s) => uid('Server', s)),
    };
  }

  /** Groups form a DAG (a group's parents come later in the list), so there are no cycles. */
  entities(withActions: boolean): EntityJson[] {
    const r = this.rng;
    const list: EntityJson[] = [];
    GROUPS.forEach((g, i) => list.push({ uid: uid('Group', g), attrs: {}, parents: r.some(GROUPS.slice(i + 1), 0.4).map((p) => uid('Group', p)) }));
    // Under chaos, now and then a back edge: a cycle if the forward path exists (both must refuse then).
    if (r.chance(this.opts.chaos / 2)) list[GROUPS.length - 1]?.parents.push(uid('Group', GROUPS[0] as string));
    for (const s of SERVERS) list.push({ uid: uid('Server', s), attrs: {}, parents: [] });
    for (const u of USERS) list.push(this.user(u));
    for (const t of TOOLS) list.push(this.tool(t));
    if (withActions) {
      list.push({ uid: uid('Action', 'ag0'), attrs: {}, parents: [] }, { uid: uid('Action', 'ag1'), attrs: {}, parents: r.chance(0.3) ? [uid('Action', 'ag0')] : [] });
      for (const a of ACTIONS) list.push({ uid: uid('Action', a), attrs: {}, parents: r.some(ACTION_GROUPS, 0.5).map((g) => uid('Action', g)) });
    }
    // Drop some entities from the slice: references to them stay, as in a real slice.
    return list.filter(() => !r.chance(this.opts.chaos > 0 ? 0.12 : 0.05));
  }

  context(): Record<string, unknown> {
    const r = this.rng;
    return this.attrs({
      path: [true, () => r.pick(STRINGS)],
      depth: [true, () => r.int(5)],
      n: [true, () => r.pick(LONGS)],
      flags: [true, () => r.some(LONGS, 0.2)],
      args: [true, () => this.attrs({ mode: [true, () => r.pick(['r', 'w', 'a*'])], size: [false, () => r.pick(LONGS)], dir: [false, () => r.pick(STRINGS)] })],
      when: [true, () => this.ext('datetime')],
      ttl: [true, () => this.ext('duration')],
      src: [true, () => this.ext('ip')],
      amount: [true, () => this.ext('decimal')],
      target: [false, () => this.entityRef('User', r.pick(USERS))],
    });
  }
}
