/**
 * Random Cedar policies (as text) over the world in world.ts: scope constraints of every kind, and
 * conditions built by a typed generator that reaches every operator the compiler handles. With `chaos`,
 * a subexpression of the wrong type is substituted now and then (runtime type errors); optional
 * attributes are read unguarded unless `guarded` (strict validation wants a `has` guard).
 */
import type { Rng } from './random.js';
import { ACTION_GROUPS, ACTIONS, BAD_EXT, GOOD_EXT, GROUPS, LONGS, SERVERS, STRINGS, TAG_KEYS, TOOLS, USERS } from './world.js';

type T = 'bool' | 'long' | 'string' | 'entity' | 'set' | 'record' | 'ip' | 'decimal' | 'datetime' | 'duration';
const TYPES: T[] = ['bool', 'long', 'string', 'entity', 'set', 'record', 'ip', 'decimal', 'datetime', 'duration'];

interface Path {
  text: string;
  type: T;
  guard?: string;
}

const PATHS: Path[] = [
  { text: 'principal.active', type: 'bool' },
  { text: 'principal.age', type: 'long' },
  { text: 'resource.risk', type: 'long' },
  { text: 'context.depth', type: 'long' },
  { text: 'context.n', type: 'long' },
  { text: 'principal.profile.level', type: 'long' },
  { text: 'context.args.size', type: 'long', guard: 'context.args has size' },
  { text: 'principal.manager.age', type: 'long', guard: 'principal has manager' },
  { text: 'resource.owner.age', type: 'long' },
  { text: 'principal.name', type: 'string' },
  { text: 'principal.tenant', type: 'string' },
  { text: 'resource.tenant', type: 'string' },
  { text: 'resource.owner.tenant', type: 'string' },
  { text: 'context.path', type: 'string' },
  { text: 'context.args.mode', type: 'string' },
  { text: 'context.args.dir', type: 'string', guard: 'context.args has dir' },
  { text: 'principal.profile.email', type: 'string', guard: 'principal.profile has email' },
  { text: 'resource.owner', type: 'entity' },
  { text: 'resource.server', type: 'entity' },
  { text: 'principal.manager', type: 'entity', guard: 'principal has manager' },
  { text: 'context.target', type: 'entity', guard: 'context has target' },
  { text: 'principal.roles', type: 'set' },
  { text: 'resource.labels', type: 'set' },
  { text: 'context.flags', type: 'set' },
  { text: 'principal.profile', type: 'record' },
  { text: 'context.args', type: 'record' },
  { text: 'context', type: 'record' },
  { text: 'context.src', type: 'ip' },
  { text: 'principal.profile.ip', type: 'ip', guard: 'principal.profile has ip' },
  { text: 'context.amount', type: 'decimal' },
  { text: 'principal.score', type: 'decimal', guard: 'principal has score' },
  { text: 'context.when', type: 'datetime' },
  { text: 'principal.since', type: 'datetime', guard: 'principal has since' },
  { text: 'context.ttl', type: 'duration' },
];

const ATTRS = ['name', 'age', 'manager', 'profile', 'email', 'ip', 'level', 'score', 'since', 'size', 'dir', 'target', 'owner', 'nope', 'roles'];

export const str = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const lit = (type: string, id: string): string => `${type}::${str(id)}`;

export interface GenOptions {
  chaos: number;
  /** Use only unguarded paths, and read optional ones behind their `has` guard (for strict validation). */
  guarded: boolean;
  /** Allow long literals beyond 2^53 (they make the policy fall back to cedar-wasm). */
  bigLiterals: boolean;
}

export class PolicyGen {
  constructor(
    private readonly rng: Rng,
    private readonly opts: GenOptions,
  ) {}

  private paths(t: T): Path[] {
    return PATHS.filter((p) => p.type === t && (!this.opts.guarded || p.guard === undefined));
  }

  private entityLit(): string {
    const r = this.rng;
    switch (r.int(4)) {
      case 0:
        return lit('User', r.pick(USERS));
      case 1:
        return lit('Group', r.pick(GROUPS));
      case 2:
        return lit('Tool', r.pick(TOOLS));
      default:
        return lit('Server', r.pick(SERVERS));
    }
  }

  private extLit(fn: 'ip' | 'decimal' | 'datetime' | 'duration'): string {
    const bad = !this.opts.guarded && this.rng.chance(this.opts.chaos);
    return `${fn}(${str(this.rng.pick((bad ? BAD_EXT : GOOD_EXT)[fn] as string[]))})`;
  }

  private longLit(): string {
    const n = this.opts.bigLiterals && this.rng.chance(0.03) ? '9223372036854775807' : String(this.rng.pick(LONGS));
    return n.startsWith('-') ? `(${n})` : n;
  }

  leaf(t: T): string {
    const r = this.rng;
    const paths = this.paths(t);
    if (paths.length > 0 && r.chance(0.5)) return r.pick(paths).text;
    switch (t) {
      case 'bool':
        return r.chance(0.5) ? 'true' : 'false';
      case 'long':
        return this.longLit();
      case 'string':
        return str(r.pick(STRINGS));
      case 'entity':
        return r.pick(['principal', 'resource', this.entityLit(), ...(this.opts.guarded ? [] : ['action'])]);
      case 'set':
        return r.pick([`[${r.some(STRINGS, 0.2).map(str).join(', ')}]`, `[${r.some(LONGS, 0.2).join(', ')}]`, `[${r.some(GROUPS, 0.4).map((g) => lit('Group', g)).join(', ')}]`]);
      case 'record':
        return `{level: ${this.longLit()}, email: ${str(r.pick(STRINGS))}}`;
      case 'ip':
      case 'decimal':
      case 'datetime':
      case 'duration':
        return this.extLit(t);
    }
  }

  gen(t: T, depth: number): string {
    const r = this.rng;
    if (r.chance(this.opts.chaos)) t = r.pick(TYPES);
    if (depth <= 0 || r.chance(0.25)) return this.leaf(t);
    const d = depth - 1;
    const g = (tt: T) => this.gen(tt, d);
    switch (t) {
      case 'bool':
        return this.boolExpr(d);
      case 'long':
        return r.pick([
          () => `(${g('long')} ${r.pick(['+', '-', '*'])} ${g('long')})`,
          () => `(-${g('long')})`,
          () => `(if ${g('bool')} then ${g('long')} else ${g('long')})`,
          () => `(${g('duration')}.${r.pick(['toDays', 'toHours', 'toMinutes', 'toSeconds', 'toMilliseconds'])}())`,
          () => (this.opts.guarded ? this.leaf('long') : `(${g('entity')}.getTag(${str(r.pick(TAG_KEYS))}))`),
        ])();
      case 'string':
      case 'entity':
        return r.chance(0.3) ? `(if ${g('bool')} then ${g(t)} else ${g(t)})` : this.leaf(t);
      case 'set':
        return r.chance(0.5) ? `[${g('long')}, ${g('long')}]` : `[${g('entity')}, ${this.entityLit()}]`;
      case 'record':
        return `{level: ${g('long')}, email: ${g('string')}}`;
      case 'datetime':
        return r.pick([() => `(${g('datetime')}.offset(${g('duration')}))`, () => `(${g('datetime')}.toDate())`, () => this.leaf('datetime')])();
      case 'duration':
        return r.pick([() => `(${g('datetime')}.durationSince(${g('datetime')}))`, () => `(${g('datetime')}.toTime())`, () => this.leaf('duration')])();
      default:
        return this.leaf(t);
    }
  }

  private boolExpr(d: number): string {
    const r = this.rng;
    const g = (tt: T) => this.gen(tt, d);
    const same = (): [string, string] => {
      const t = r.pick(TYPES);
      return [g(t), g(t)];
    };
    const choices: (() => string)[] = [
      () => `(${g('bool')} ${r.pick(['&&', '||'])} ${g('bool')})`,
      () => `(!${g('bool')})`,
      () => `(${g('long')} ${r.pick(['<', '<=', '>', '>='])} ${g('long')})`,
      () => `(${g('datetime')} ${r.pick(['<', '<=', '>', '>=', '=='])} ${g('datetime')})`,
      () => `(${g('duration')} ${r.pick(['<', '>=', '!='])} ${g('duration')})`,
      () => {
        const [a, b] = same();
        return `(${a} ${r.pick(['==', '!='])} ${b})`;
      },
      () => `(${g('entity')} in ${r.chance(0.5) ? g('entity') : `[${this.entityLit()}, ${lit('Group', r.pick(GROUPS))}]`})`,
      () => `(${g('entity')} in ${g('set')})`,
      () => `(${r.chance(0.7) ? g('entity') : g('record')} has ${r.pick(ATTRS)})`,
      () => `(${r.pick(['principal has profile.email', 'principal has profile.ip', 'context has args.size', 'resource has owner.name', 'principal has manager.manager'])})`,
      () => `(${g('string')} like ${this.pattern()})`,
      () => `(${g('entity')} is ${r.pick(['User', 'Group', 'Tool'])})`,
      () => `(${g('entity')} is ${r.pick(['User', 'Tool'])} in ${r.chance(0.5) ? lit('Group', r.pick(GROUPS)) : g('entity')})`,
      () => `(${g('set')}.contains(${r.chance(0.5) ? g('string') : g('long')}))`,
      () => `(${g('set')}.${r.pick(['containsAll', 'containsAny'])}(${g('set')}))`,
      () => `(${g('set')}.isEmpty())`,
      () => `(${this.opts.guarded ? 'principal' : g('entity')}.hasTag(${str(r.pick(TAG_KEYS))}))`,
      () => `(${g('ip')}.${r.pick(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast'])}())`,
      () => `(${g('ip')}.isInRange(${g('ip')}))`,
      () => `(${g('decimal')}.${r.pick(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual'])}(${g('decimal')}))`,
      () => `(if ${g('bool')} then ${g('bool')} else ${g('bool')})`,
      () => `(action in Action::${str(r.pick([...ACTION_GROUPS, ...ACTIONS]))})`,
      () => this.guardedUse(d),
    ];
    // Logical operators get a third of the weight: they decide how errors and short-circuits combine.
    if (r.chance(0.33)) return r.pick(choices.slice(0, 2))();
    return r.pick(choices)();
  }

  /** `guard && use(optional path)`: what strict validation accepts for optional attributes. */
  private guardedUse(d: number): string {
    const p = this.rng.pick(PATHS.filter((x) => x.guard !== undefined));
    const other = this.gen(p.type, d);
    const use = p.type === 'long' ? `${p.text} > ${other}` : p.type === 'entity' ? `${p.text} in ${other}` : `${p.text} == ${other}`;
    return `(${p.guard as string} && (${use}))`;
  }

  /** A like pattern: often derived from a string the world uses (so matches happen), else random pieces. */
  pattern(): string {
    const r = this.rng;
    // WILD is a wildcard; every other piece is literal text (a literal `*` is written `\*`).
    const WILD = null;
    let pieces: (string | null)[];
    if (r.chance(0.6)) {
      const chars = [...r.pick(STRINGS)];
      pieces = [];
      for (let i = 0; i < chars.length; i++) {
        if (r.chance(0.3)) {
          pieces.push(WILD);
          i += r.int(3);
        } else pieces.push(chars[i] as string);
      }
      if (r.chance(0.2)) pieces.push(r.pick([WILD, 'a', 'b']));
      if (r.chance(0.2)) pieces.unshift(r.pick([WILD, 'a', 'x']));
    } else pieces = Array.from({ length: 1 + r.int(4) }, () => r.pick([WILD, 'a', 'b', '/data/', 'agent-a', '*', '\\', 'é', '"', '.']));
    const escape = (p: string | null): string => (p === null ? '*' : p.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\*/g, '\\*'));
    return `"${pieces.map(escape).join('')}"`;
  }

  private scope(kind: 'principal' | 'resource'): string {
    const r = this.rng;
    const [type, ids, parentType, parents] = kind === 'principal' ? ['User', USERS, 'Group', GROUPS] : ['Tool', TOOLS, 'Server', SERVERS];
    switch (r.int(6)) {
      case 0:
        return `${kind} == ${lit(type, r.pick(ids))}`;
      case 1:
        return `${kind} in ${lit(parentType, r.pick(parents))}`;
      case 2:
        return `${kind} is ${type}`;
      case 3:
        return `${kind} is ${type} in ${lit(parentType, r.pick(parents))}`;
      default:
        return kind;
    }
  }

  private actionScope(): string {
    const r = this.rng;
    switch (r.int(5)) {
      case 0:
        return `action == Action::${str(r.pick(ACTIONS))}`;
      case 1:
        return `action in Action::${str(r.pick(ACTION_GROUPS))}`;
      case 2:
        return `action in [${r.some([...ACTIONS, ...ACTION_GROUPS], 0.4).map((a) => `Action::${str(a)}`).join(', ')}]`;
      default:
        return 'action';
    }
  }

  policy(id: string): string {
    const r = this.rng;
    const effect = r.chance(0.35) ? 'forbid' : 'permit';
    const conds = Array.from({ length: r.int(3) }, () => `${r.chance(0.7) ? 'when' : 'unless'} { ${this.gen('bool', 1 + r.int(4))} }`);
    return `@id(${str(id)})\n${effect}(${this.scope('principal')}, ${this.actionScope()}, ${this.scope('resource')})\n${conds.join('\n')};`;
  }
}
