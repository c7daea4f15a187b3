/**
 * Compiles a Cedar expression in its JSON form (EST, from cedar-wasm's policyToJson) into a closure over
 * the request. Semantics follow Cedar 4.5: dynamic type errors, short-circuit `&&`/`||`/if, i64 overflow
 * as an error, `in` over the transitive hierarchy. Subtrees that touch neither the request nor the entity
 * store are folded at compile time (to a value, or to the error they always raise). Anything this
 * compiler does not know raises Unsupported, and the policy falls back to cedar-wasm.
 */
import { EXT_FUNCTIONS } from './ext-calls.js';
import { PolicyInputError } from './errors.js';
import { jsonToValue, type EntityStore } from './input.js';
import { asBool, asEntity, asSet, asString, compare, containsAll, containsAny, getAttr, getTag, hasAttr, hasTag, inOp, likeMatcher } from './operators.js';
import { addLong, CedarRecord, CedarSet, EntityUid, EvalError, isLong, mulLong, negLong, subLong, typeError, valueEquals, type Long, type Value } from './values.js';

export interface Env {
  principal: EntityUid;
  action: EntityUid;
  resource: EntityUid;
  context: CedarRecord;
  store: EntityStore;
}

export type Eval = (env: Env) => Value;

/** The compiler cannot express this: the policy is evaluated by cedar-wasm instead. */
export class Unsupported extends Error {
  override readonly name = 'Unsupported';
}

interface Compiled {
  fn: Eval;
  /** Depends on neither the request nor the entity store: safe to fold. */
  pure: boolean;
}

type Node = Record<string, unknown>;

function node(x: unknown, what: string): Node {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Unsupported(`unexpected ${what} in policy JSON`);
  return x as Node;
}

const NO_ENV = undefined as unknown as Env;

function fold(c: Compiled): Compiled {
  if (!c.pure) return c;
  try {
    const v = c.fn(NO_ENV);
    return { fn: () => v, pure: true };
  } catch (e) {
    if (!(e instanceof EvalError)) throw e;
    return {
      fn: () => {
        throw e;
      },
      pure: true,
    };
  }
}

export function compileExpr(x: unknown): Eval {
  return compile(x).fn;
}

function compile(x: unknown): Compiled {
  const n = node(x, 'expression');
  const keys = Object.keys(n);
  if (keys.length !== 1) throw new Unsupported(`expression with keys ${keys.join(',')}`);
  const op = keys[0] as string;
  return fold(compileOp(op, n[op]));
}

function literal(v: unknown): Compiled {
  let value: Value;
  try {
    value = jsonToValue(v, 'literal');
  } catch (e) {
    if (e instanceof PolicyInputError) throw new Unsupported(e.message);
    throw e;
  }
  return { fn: () => value, pure: true };
}

function variable(name: unknown): Compiled {
  switch (name) {
    case 'principal':
      return { fn: (env) => env.principal, pure: false };
    case 'action':
      return { fn: (env) => env.action, pure: false };
    case 'resource':
      return { fn: (env) => env.resource, pure: false };
    case 'context':
      return { fn: (env) => env.context, pure: false };
  }
  throw new Unsupported(`variable ${String(name)}`);
}

type Bin = (a: Value, b: Value, env: Env) => Value;

function binary(body: unknown, f: Bin, touchesStore = false): Compiled {
  const b = node(body, 'operands');
  const l = compile(b.left);
  const r = compile(b.right);
  const [lf, rf] = [l.fn, r.fn];
  return { fn: (env) => f(lf(env), rf(env), env), pure: !touchesStore && l.pure && r.pure };
}

function longs(a: Value, b: Value): [Long, Long] {
  if (!isLong(a)) throw typeError('long', a);
  if (!isLong(b)) throw typeError('long', b);
  return [a, b];
}

function compileOp(op: string, body: unknown): Compiled {
  switch (op) {
    case 'Value':
      return literal(body);
    case 'Var':
      return variable(body);
    case 'Slot':
      throw new Unsupported('template slot');
    case '!': {
      const a = compile(node(body, 'operand').arg);
      return { fn: (env) => !asBool(a.fn(env)), pure: a.pure };
    }
    case 'neg': {
      const a = compile(node(body, 'operand').arg);
      return {
        fn: (env) => {
          const v = a.fn(env);
          if (!isLong(v)) throw typeError('long', v);
          return negLong(v);
        },
        pure: a.pure,
      };
    }
    case '==':
      return binary(body, (a, b) => valueEquals(a, b));
    case '!=':
      return binary(body, (a, b) => !valueEquals(a, b));
    case '<':
      return binary(body, (a, b) => (typeof a === 'number' && typeof b === 'number' ? a < b : compare(a, b) < 0));
    case '<=':
      return binary(body, (a, b) => (typeof a === 'number' && typeof b === 'number' ? a <= b : compare(a, b) <= 0));
    case '>':
      return binary(body, (a, b) => (typeof a === 'number' && typeof b === 'number' ? a > b : compare(a, b) > 0));
    case '>=':
      return binary(body, (a, b) => (typeof a === 'number' && typeof b === 'number' ? a >= b : compare(a, b) >= 0));
    case '+':
      return binary(body, (a, b) => addLong(...longs(a, b)));
    case '-':
      return binary(body, (a, b) => subLong(...longs(a, b)));
    case '*':
      return binary(body, (a, b) => mulLong(...longs(a, b)));
    case '&&':
    case '||':
      return logical(op, node(body, 'operands'));
    case 'in':
      return compileIn(node(body, 'operands'));
    case 'contains':
      return binary(body, (a, b) => asSet(a).has(b));
    case 'containsAll':
      return binary(body, containsAll);
    case 'containsAny':
      return binary(body, containsAny);
    case 'isEmpty': {
      const a = compile(node(body, 'operand').arg);
      return { fn: (env) => asSet(a.fn(env)).size === 0, pure: a.pure };
    }
    case 'getTag':
      return binary(body, (a, b, env) => getTag(a, b, env.store), true);
    case 'hasTag':
      return binary(body, (a, b, env) => hasTag(a, b, env.store), true);
    case '.': {
      const b = node(body, 'attribute access');
      const l = compile(b.left).fn;
      const attr = attrName(b.attr);
      return { fn: (env) => getAttr(l(env), attr, env.store), pure: false };
    }
    case 'has':
      return compileHas(node(body, 'has'));
    case 'like': {
      const b = node(body, 'like');
      const l = compile(b.left).fn;
      const match = likeMatcher(pattern(b.pattern));
      return { fn: (env) => match(asString(l(env))), pure: false };
    }
    case 'is':
      return compileIs(node(body, 'is'));
    case 'if-then-else': {
      const b = node(body, 'if-then-else');
      const [c, t, e] = [compile(b.if), compile(b.then), compile(b.else)];
      return { fn: (env) => (asBool(c.fn(env)) ? t.fn(env) : e.fn(env)), pure: c.pure && t.pure && e.pure };
    }
    case 'Set': {
      if (!Array.isArray(body)) throw new Unsupported('set literal');
      const items = body.map(compile);
      const fns = items.map((i) => i.fn);
      return { fn: (env) => CedarSet.of(fns.map((f) => f(env))), pure: items.every((i) => i.pure) };
    }
    case 'Record': {
      const entries = Object.entries(node(body, 'record literal')).map(([k, v]) => [k, compile(v)] as const);
      return {
        fn: (env) => new CedarRecord(new Map(entries.map(([k, c]) => [k, c.fn(env)]))),
        pure: entries.every(([, c]) => c.pure),
      };
    }
  }
  return extCall(op, body);
}

function attrName(a: unknown): string {
  if (typeof a !== 'string') throw new Unsupported('attribute name');
  return a;
}

function pattern(p: unknown): ('Wildcard' | { Literal: string })[] {
  if (!Array.isArray(p)) throw new Unsupported('like pattern');
  return p.map((el: unknown) => {
    if (el === 'Wildcard') return el;
    const lit = node(el, 'pattern element').Literal;
    if (typeof lit !== 'string') throw new Unsupported('like pattern element');
    return { Literal: lit };
  });
}

function logical(op: '&&' | '||', b: Node): Compiled {
  const l = compile(b.left);
  const r = compile(b.right);
  const [lf, rf] = [l.fn, r.fn];
  const fn: Eval =
    op === '&&'
      ? (env) => {
          const a = lf(env);
          if (a === false) return false;
          if (a !== true) throw typeError('bool', a);
          return asBool(rf(env));
        }
      : (env) => {
          const a = lf(env);
          if (a === true) return true;
          if (a !== false) throw typeError('bool', a);
          return asBool(rf(env));
        };
  return { fn, pure: l.pure && r.pure };
}

function compileIn(b: Node): Compiled {
  const l = compile(b.left).fn;
  const r = compile(b.right);
  if (r.pure) {
    let target: Value | undefined;
    try {
      target = r.fn(NO_ENV);
    } catch {
      target = undefined;
    }
    if (target instanceof EntityUid) {
      const key = target.key;
      return { fn: (env) => env.store.isIn(asEntity(l(env)), key), pure: false };
    }
  }
  const rf = r.fn;
  return { fn: (env) => inOp(l(env), rf(env), env.store), pure: false };
}

function compileHas(b: Node): Compiled {
  const l = compile(b.left).fn;
  const path = Array.isArray(b.attr) ? b.attr.map(attrName) : [attrName(b.attr)];
  if (path.length === 0) throw new Unsupported('empty has path');
  if (path.length === 1) {
    const attr = path[0] as string;
    return { fn: (env) => hasAttr(l(env), attr, env.store), pure: false };
  }
  // `x has a.b.c` is `x has a && x.a has b && x.a.b has c`.
  return {
    fn: (env) => {
      let v = l(env);
      for (let i = 0; i < path.length; i++) {
        if (i > 0) v = getAttr(v, path[i - 1] as string, env.store);
        if (!hasAttr(v, path[i] as string, env.store)) return false;
      }
      return true;
    },
    pure: false,
  };
}

function compileIs(b: Node): Compiled {
  const l = compile(b.left);
  const type = b.entity_type;
  if (typeof type !== 'string') throw new Unsupported('is without an entity type');
  const lf = l.fn;
  if (b.in === undefined) return { fn: (env) => asEntity(lf(env)).type === type, pure: l.pure };
  // `x is T in y` is `x is T && x in y`.
  const inner = compileIn({ left: b.left, right: b.in }).fn;
  return { fn: (env) => asEntity(lf(env)).type === type && (inner(env) as boolean), pure: false };
}

function extCall(name: string, body: unknown): Compiled {
  const f = Object.hasOwn(EXT_FUNCTIONS, name) ? EXT_FUNCTIONS[name] : undefined;
  if (f === undefined) throw new Unsupported(`function or operator \`${name}\``);
  if (!Array.isArray(body) || body.length !== f.arity) throw new Unsupported(`call of \`${name}\` with ${Array.isArray(body) ? body.length : 'no'} arguments`);
  const args = body.map(compile);
  const fns = args.map((a) => a.fn);
  const call = f.call;
  if (fns.length === 1) {
    const a0 = fns[0] as Eval;
    return { fn: (env) => call([a0(env)]), pure: args.every((a) => a.pure) };
  }
  return { fn: (env) => call(fns.map((g) => g(env))), pure: args.every((a) => a.pure) };
}
