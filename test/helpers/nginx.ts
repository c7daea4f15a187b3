/**
 * nginx on loopback in front of gateway replicas, running the shipped site config
 * (deploy/nginx/mcp-warden.conf) with the given ports: used by the fleet test and by the replica bench.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NGINX = '/usr/sbin/nginx';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A port nothing listens on now (nginx cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The shipped nginx config with this test's ports, wrapped in a minimal main config; reports the replica that answered. */
export function nginxConfig(dir: string, port: number, replicas: number[]): string {
  let site = readFileSync(join(ROOT, 'deploy', 'nginx', 'mcp-warden.conf'), 'utf8');
  site = site.replace(/^\s*server 127\.0\.0\.1:\d+ .*;$\n/gm, '');
  site = site.replace(/upstream mcp_warden \{\n/, `upstream mcp_warden {\n${replicas.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;\n`).join('')}`);
  site = site.replace(/listen 127\.0\.0\.1:\d+;/, `listen 127.0.0.1:${port};\n    add_header X-Replica $upstream_addr always;`);
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${dir}/${k === 'client_body' ? 'body' : k};`);
  return [
    `${user}daemon off;`,
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...temp,
    site,
    '}',
    '',
  ].join('\n');
}

