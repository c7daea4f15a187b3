import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkAuthMode } from '../../src/cli/start-gateway.js';
import { ConfigError, loadConfig, resolveStoreSpec, validateConfig } from '../../src/config/index.js';
import { createHostGuard } from '../../src/ingress/guard.js';
import { silentLogger } from '../../src/telemetry/log.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

test('a desktop-app mcpServers block is accepted as pasted, with safe defaults for the rest', () => {
  const f = write('ok.json', JSON.stringify({ auth: { mode: 'none' }, mcpServers: { files: { command: 'npx', args: ['-y', 'x'] }, gh: { url: 'https://example.com/mcp', headers: { A: 'b' } } } }));
  const { config } = loadConfig(f);
  assert.equal(config.listen, '127.0.0.1:7400');
  assert.equal(config.naming.prefix, 'auto');
  assert.equal(config.limits.maxBodyBytes, 4 * 1024 * 1024);
  assert.deepEqual(config.mcpServers.files, { command: 'npx', args: ['-y', 'x'], env: {}, cwd: dir }, 'a stdio server runs in the config folder');
});

test('a bad config names the file, the path and what is wrong', () => {
  const f = write('bad.yaml', 'lissten: 1\nmcpServers:\n  files: { args: [a] }\n  "bad name!": { command: x }\n');
  assert.throws(() => loadConfig(f), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.ok(err.message.includes(f), 'names the file');
    assert.match(err.message, /lissten/);
    assert.match(err.message, /mcpServers\.files/);
    assert.match(err.message, /bad name!/);
    return true;
  });
  assert.throws(() => loadConfig(write('syntax.yaml', 'mcpServers: [\n')), /cannot parse config/);
  assert.throws(() => loadConfig(join(dir, 'missing.yaml')), /cannot read config .*ENOENT/);
  assert.throws(() => validateConfig({ mcpServers: { a__b: { command: 'x' } } }, 't'), /must not contain the naming separator/);
  assert.throws(() => validateConfig({ mcpServers: { a: { url: 'ftp://x/y' } } }, 't'), /mcpServers\.a/);
});

test('roots are directories, clientRoots needs them, and a remote upstream\'s roots are absolute', () => {
  const one = (server: Record<string, unknown>) => validateConfig({ mcpServers: { a: server } }, 't');
  assert.throws(() => one({ command: 'x', clientRoots: true }), /mcpServers\.a\.clientRoots: needs roots/);
  assert.throws(() => one({ command: 'x', roots: ['https://example.com/'] }), /mcpServers\.a\.roots\.0: a root is a directory/);
  assert.throws(() => one({ url: 'https://example.com/mcp', roots: ['data'] }), /mcpServers\.a\.roots\.0: a remote upstream/);
  one({ command: 'x', roots: ['./data', 'file:///srv/x'], clientRoots: true, allowGatewayFiles: false });
  one({ url: 'https://example.com/mcp', roots: ['/srv/data'] });
});

test('without auth the gateway refuses to start; mode none is loopback-only', () => {
  const log = silentLogger();
  assert.throws(() => checkAuthMode(validateConfig({ mcpServers: {} }, 't'), log), /no authentication is configured/);
  assert.throws(() => checkAuthMode(validateConfig({ listen: '0.0.0.0:7400', auth: { mode: 'none' }, mcpServers: {} }, 't'), log), /only accepted on a loopback/);
  assert.doesNotThrow(() => checkAuthMode(validateConfig({ listen: '127.0.0.1:7400', auth: { mode: 'none' }, mcpServers: {} }, 't'), log));
  assert.doesNotThrow(() => checkAuthMode(validateConfig({ listen: '[::1]:7400', auth: { mode: 'none' }, mcpServers: {} }, 't'), log));
});

test('store paths resolve against the config directory; URLs pass unchanged', () => {
  assert.equal(resolveStoreSpec('.warden/w.db', '/etc/warden'), '/etc/warden/.warden/w.db');
  assert.equal(resolveStoreSpec('sqlite:w.db', '/x'), '/x/w.db');
  assert.equal(resolveStoreSpec('/abs/w.db', '/x'), '/abs/w.db');
  assert.equal(resolveStoreSpec('postgres://u@h/db', '/x'), 'postgres://u@h/db');
});

test('the host guard accepts our loopback names and refuses rebinding hosts and foreign origins', () => {
  const g = createHostGuard('127.0.0.1', 7400, [], ['https://console.example.com']);
  for (const h of ['127.0.0.1:7400', 'localhost:7400', '[::1]:7400', 'LOCALHOST:7400']) assert.ok(g.hostAllowed(h), h);
  for (const h of ['evil.example.com', 'evil.example.com:7400', '127.0.0.1:7401', undefined]) assert.ok(!g.hostAllowed(h), String(h));
  assert.ok(g.originAllowed(undefined), 'non-browser clients send no Origin');
  assert.ok(g.originAllowed('http://localhost:7400'));
  assert.ok(g.originAllowed('https://console.example.com'));
  assert.ok(!g.originAllowed('http://evil.example.com'));
  assert.ok(!g.originAllowed('null'));
  const pub = createHostGuard('127.0.0.1', 7400, ['gw.internal:8443'], [], 'https://mcp.example.com/mcp');
  assert.ok(pub.hostAllowed('gw.internal:8443') && pub.hostAllowed('mcp.example.com'));
});

test('config errors name the exact key and the shape expected there', () => {
  const message = (mcpServers: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    try {
      validateConfig({ auth: { mode: 'none' }, mcpServers, ...extra }, 'w.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  // A number where a string goes: the key, what was given, how to fix it; not "needs command or url".
  const port = message({ web: { command: 'node', env: { PORT: 3000 } } });
  assert.match(port, /mcpServers\.web\.env\.PORT: expected a string, got the number 3000 \(quote it: "3000"\)/);
  assert.doesNotMatch(port, /needs/);
  // A typo of the key that decides the transport: named, with the key meant.
  assert.match(message({ web: { comand: 'node' } }), /mcpServers\.web: an upstream needs "command" .*"comand" is not a known key: did you mean "command"\?/);
  // A typo of another key, once the transport is clear: that key, and its neighbour.
  assert.match(message({ web: { command: 'node', agrs: ['x'] } }), /mcpServers\.web\.agrs: unknown key \(did you mean "args"\?\)/);
  assert.match(message({ web: { url: 'https://x.example/mcp', header: {} } }), /mcpServers\.web\.header: unknown key \(did you mean "headers"\?\)/);
  assert.match(message({ web: { command: 'node', url: 'https://x.example/mcp' } }), /mcpServers\.web: give either "command" .* or "url" .*not both/);
  assert.match(message({ web: 'npx server' }), /mcpServers\.web: expected a mapping .*got the string "npx server"/);
  assert.match(message({}, { approvals: { holdSecond: 30 } }), /approvals\.holdSecond: unknown key \(did you mean "holdSeconds"\?\)/);
  assert.match(message({}, { listen: 7400 }), /listen: expected a string, got the number 7400/);
  assert.match(message({}, { mcpServer: {} }), /mcpServer: unknown key \(did you mean "mcpServers"\?\)/);
});

test("a stdio upstream runs in the config's folder, or in its cwd relative to it; other arguments are left alone", () => {
  const f = write('paths.yaml', 'auth: { mode: none }\nmcpServers:\n  a: { command: npx, args: [-y, pkg, ./data] }\n  b: { command: ./run.sh, cwd: sub/dir }\n  c: { command: x, cwd: /opt/srv }\n  h: { url: https://h.example/mcp }\n');
  const { config } = loadConfig(f);
  const s = config.mcpServers as Record<string, { cwd?: string; args?: string[] }>;
  assert.equal(s.a?.cwd, dir);
  assert.deepEqual(s.a?.args, ['-y', 'pkg', './data'], 'arguments are not rewritten: the cwd makes ./data relative to the config');
  assert.equal(s.b?.cwd, join(dir, 'sub', 'dir'));
  assert.equal(s.c?.cwd, '/opt/srv');
  assert.equal(s.h?.cwd, undefined);
});
