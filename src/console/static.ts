/**
 * The console's only assets, served from memory: a stylesheet and the live-tail script (progressive
 * enhancement: without it the audit page still lists and filters; with it, new events appear as they are
 * recorded). The script builds DOM nodes with textContent only, never markup from the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const CSS = `:root{color-scheme:light}
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1f2937;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:1rem}
header a{color:#e5e7eb}header a[aria-current=page]{color:#fff;font-weight:700;text-decoration-thickness:3px}
.brand{font-weight:700}nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.9rem;margin:0;padding:0}
.who{margin-left:auto;display:flex;gap:.5rem;align-items:center}.who form{display:inline}
main{max-width:80rem;margin:1rem auto;padding:0 1rem}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem;z-index:9}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;background:#fff}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #d1d5db;padding:.3rem .5rem;text-align:left;vertical-align:top}td{overflow-wrap:break-word}
th{background:#f3f4f6;white-space:nowrap}td input{max-width:10rem}
pre{background:#f3f3f3;padding:.75rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere;max-height:40rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.none,.empty{color:#6b7280;font-style:italic}.note{border-left:4px solid #b35c00;padding-left:.75rem}
.ok{color:#065f46}.denied,.bad{color:#991b1b;font-weight:600}.cards{display:flex;flex-wrap:wrap;gap:1rem;padding:0;list-style:none}
.cards li{background:#fff;border:1px solid #d1d5db;padding:.75rem 1rem;min-width:10rem}.cards strong{display:block;font-size:1.6rem}
form.filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end}form.filters label{display:flex;flex-direction:column;font-size:.9rem}
label{font-weight:600}textarea{width:100%;min-height:10rem;font-family:monospace}input,select,textarea,button{font-size:1rem}
button{padding:.3rem .9rem;cursor:pointer}:focus-visible{outline:3px solid #2563eb;outline-offset:2px}
ol.timeline{list-style:none;padding:0;border-left:3px solid #9ca3af;margin-left:.5rem}
ol.timeline li{margin:0 0 .75rem 0;padding-left:1rem;position:relative}ol.timeline li::before{content:"";position:absolute;left:-.55rem;top:.45rem;width:.8rem;height:.8rem;border-radius:50%;background:#6b7280}
ol.timeline li.deny::before{background:#b91c1c}ol.timeline li.allow::before{background:#047857}
.step{font-weight:600}.inline{display:inline}
`;

/** Subscribes to the page's event stream (data-stream on #tail) and prepends each event as a table row. */
const TAIL_JS = `'use strict';
(function () {
  var table = document.getElementById('tail');
  if (!table || typeof EventSource !== 'function') return;
  var body = table.querySelector('tbody');
  var status = document.getElementById('tail-status');
  var source = new EventSource(table.getAttribute('data-stream'));
  source.addEventListener('open', function () { if (status) status.textContent = 'Live: new events appear below as they are recorded.'; });
  source.addEventListener('error', function () { if (status) status.textContent = 'Live tail disconnected; retrying.'; });
  source.addEventListener('audit', function (e) {
    var ev = JSON.parse(e.data);
    var row = document.createElement('tr');
    ['time', 'agent', 'user', 'task', 'method', 'tool', 'outcome', 'reason'].forEach(function (k) {
      var cell = document.createElement('td');
      cell.textContent = ev[k] == null ? '' : String(ev[k]);
      row.appendChild(cell);
    });
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
  });
})();
`;

const ASSETS: Record<string, { type: string; body: string }> = {
  '/console/static/console.css': { type: 'text/css; charset=utf-8', body: CSS },
  '/console/static/tail.js': { type: 'text/javascript; charset=utf-8', body: TAIL_JS },
};

export function serveStatic(path: string, req: IncomingMessage, res: ServerResponse): boolean {
  const asset = ASSETS[path];
  if (!asset) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET' }).end();
    return true;
  }
  res.writeHead(200, { 'content-type': asset.type, 'content-length': Buffer.byteLength(asset.body), 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'cross-origin-resource-policy': 'same-origin' });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
  return true;
}
