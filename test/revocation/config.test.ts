/** The `revocation` config block: its defaults, and a poll interval that would refuse requests between reads is an error at start. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, validateConfig } from '../../src/config/index.js';

test('revocation config: defaults 5 s staleness and a 500 ms poll; pollMs must be at most half the window', () => {
  assert.deepEqual(validateConfig({ mcpServers: {} }, 'test').revocation, { maxStalenessSeconds: 5, pollMs: 500 });
  assert.deepEqual(validateConfig({ mcpServers: {}, revocation: { maxStalenessSeconds: 1, pollMs: 200 } }, 'test').revocation, { maxStalenessSeconds: 1, pollMs: 200 });
  assert.throws(() => validateConfig({ mcpServers: {}, revocation: { maxStalenessSeconds: 1, pollMs: 600 } }, 'test'), (e: unknown) => e instanceof ConfigError && /revocation/.test(e.message) && /half of maxStalenessSeconds/.test(e.message));
  assert.throws(() => validateConfig({ mcpServers: {}, revocation: { maxStalenessSeconds: 0 } }, 'test'), ConfigError);
  assert.throws(() => validateConfig({ mcpServers: {}, revocation: { pollMs: 500, extra: 1 } }, 'test'), ConfigError);
});
