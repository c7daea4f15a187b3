// A V8 CPU profile (`node --cpu-prof`, a .cpuprofile file) turned into a flame-graph SVG (root at the bottom,
// width = CPU time, hover for names and shares), plus the functions with the most self time. No dependency.
// Run alone: node --import tsx bench/flamegraph.ts IN.cpuprofile OUT.svg [title] [fromUs]
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

interface Frame { name: string; self: number; total: number; children: Frame[] }

const IDLE = '(idle)';

function frameName(n: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const fn = functionName || '(anonymous)';
  if (!url) return fn;
  // Short paths: relative to the project, or the package inside node_modules, or node: internals.
  let file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) file = file.slice(nm + 13);
  else if (file.startsWith(root)) file = path.relative(root, file);
  return `${fn} ${file}:${lineNumber + 1}`;
}

/**
 * Builds the call tree with self time (µs) from the samples; idle time is left out, and so are samples taken
 * before fromUs (the profile's monotonic clock, as process.hrtime: start-up is not what a call costs).
 */
function buildTree(p: CpuProfile, root: string, fromUs: number): Frame {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (at < fromUs) continue;
    const id = p.samples[i] as number;
    // A sample's time is the delta to the next sample.
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const build = (n: ProfileNode): Frame => {
    const name = frameName(n, root);
    const children = (n.children ?? []).map((c) => build(byId.get(c) as ProfileNode)).filter((c) => c.total > 0 && c.name !== IDLE);
    const self = name === IDLE ? 0 : selfUs.get(n.id) ?? 0;
    return { name, self, total: self + children.reduce((s, c) => s + c.total, 0), children };
  };
  return build(p.nodes[0] as ProfileNode);
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function color(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  if (name.startsWith('(')) return 'rgb(180,180,180)';
  const own = !name.includes('node_modules') && /(src|dist)\//.test(name);
  return own ? `rgb(${230 + (h % 25)},${100 + (h % 80)},${40 + (h % 30)})` : `rgb(${100 + (h % 60)},${150 + (h % 60)},${200 + (h % 50)})`;
}

/** Writes the SVG; returns the functions with the most self time (share of all non-idle CPU time). */
export function writeFlameGraph(input: string, output: string, title: string, fromUs = 0, root = process.cwd()): { fn: string; selfPct: number }[] {
  const prof = JSON.parse(fs.readFileSync(input, 'utf8')) as CpuProfile;
  const tree = buildTree(prof, root, fromUs);
  const W = 1200, ROW = 16, PAD = 30;
  let depth = 0;
  const rects: string[] = [];
  const total = tree.total || 1;
  const walk = (f: Frame, x: number, d: number): void => {
    const w = (f.total / total) * W;
    if (w < 0.3) return;
    depth = Math.max(depth, d);
    rects.push(`${d}|${x.toFixed(2)}|${w.toFixed(2)}|${f.name}|${((f.total / total) * 100).toFixed(2)}`);
    let cx = x;
    for (const c of f.children) { walk(c, cx, d + 1); cx += (c.total / total) * W; }
  };
  walk(tree, 0, 0);
  const H = (depth + 1) * ROW + PAD * 2;
  const out = [`<?xml version="1.0" standalone="no"?>`, `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fdfdf6"/>`, `<text x="6" y="18" font-size="14">${esc(title)} (${(total / 1000).toFixed(0)} ms CPU, idle excluded)</text>`];
  for (const r of rects) {
    const [d, x, w, name, pct] = r.split('|') as [string, string, string, string, string];
    const y = H - PAD - (Number(d) + 1) * ROW;
    const label = Number(w) > 40 ? `<text x="${(Number(x) + 3).toFixed(1)}" y="${y + 12}">${esc(name.slice(0, Math.floor(Number(w) / 7)))}</text>` : '';
    out.push(`<g><title>${esc(name)} (${pct} %)</title><rect x="${x}" y="${y}" width="${w}" height="${ROW - 1}" fill="${color(name)}"/>${label}</g>`);
  }
  out.push('</svg>');
  fs.writeFileSync(output, out.join('\n') + '\n');
  const self = new Map<string, number>();
  const acc = (f: Frame): void => { if (f.self > 0) self.set(f.name, (self.get(f.name) ?? 0) + f.self); f.children.forEach(acc); };
  acc(tree);
  if (process.env.FLAME_INCLUSIVE) {
    // Inclusive time per function (each stack counted once per function), for reading a profile by hand.
    const inc = new Map<string, number>();
    const walkInc = (f: Frame, seen: Set<string>): void => {
      if (!seen.has(f.name)) inc.set(f.name, (inc.get(f.name) ?? 0) + f.total);
      const next = new Set(seen).add(f.name);
      for (const c of f.children) walkInc(c, next);
    };
    walkInc(tree, new Set());
    for (const [fn, us] of [...inc.entries()].sort((a, b) => b[1] - a[1]).slice(0, 120)) console.log(`incl ${((us / total) * 100).toFixed(1).padStart(5)} %  ${fn}`);
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).map(([fn, us]) => ({ fn, selfPct: Math.round((us / total) * 1000) / 10 }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output, title, from] = process.argv.slice(2);
  if (!input || !output) throw new Error('usage: flamegraph.ts IN.cpuprofile OUT.svg [title] [fromUs]');
  for (const t of writeFlameGraph(input, output, title ?? path.basename(input), Number(from ?? 0)).slice(0, 25)) console.log(`${t.selfPct.toFixed(1).padStart(5)} %  ${t.fn}`);
}
