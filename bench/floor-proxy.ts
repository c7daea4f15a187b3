// The floor under the gateway's CPU per call: the least a Node.js process does to forward one MCP call over
// HTTP (node:http server, read the body, JSON.parse it as any enforcing proxy must, a keep-alive node:http
// request upstream, read the answer, write it back), and optionally N durable SQLite commits per call (WAL,
// synchronous NORMAL, one small row each into a table with only its primary key: the cheapest record a
// strict audit could make). No auth, no policy, no hash chain. It is a reference for `cpu-per-call.ts`,
// not something to deploy. Prints `listening on http://127.0.0.1:PORT/mcp`.
// Usage: node --import tsx bench/floor-proxy.ts --upstream=URL [--commits=N] [--db=FILE]
import http from 'node:http';
import Database from 'better-sqlite3';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const upstream = new URL(arg('upstream') ?? '');
const commits = Number(arg('commits') ?? 0);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

let record: ((text: string) => void) | undefined;
if (commits > 0) {
  const db = new Database(arg('db') ?? ':memory:');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS floor_records (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare<[string]>('INSERT INTO floor_records (body) VALUES (?)');
  record = (text) => {
    for (let i = 0; i < commits; i++) insert.run(text);
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const server = http.createServer((req, res) => {
  (async () => {
    const body = await readBody(req);
    if (body.length > 0) {
      const msg = JSON.parse(body.toString('utf8')) as { method?: string };
      record?.(String(msg.method));
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') headers['mcp-session-id'] = sid;
    const up = http.request({ host: upstream.hostname, port: upstream.port, path: upstream.pathname, method: req.method, headers, agent }, (r) => {
      void readBody(r).then((answer) => {
        const out: Record<string, string | number> = { 'content-type': String(r.headers['content-type'] ?? 'application/json'), 'content-length': answer.length };
        if (typeof r.headers['mcp-session-id'] === 'string') out['mcp-session-id'] = r.headers['mcp-session-id'];
        res.writeHead(r.statusCode ?? 502, out);
        res.end(answer);
      });
    });
    up.on('error', () => res.writeHead(502).end());
    up.end(body);
  })().catch(() => res.writeHead(400).end());
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${port}/mcp`);
});
