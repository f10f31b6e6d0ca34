'use strict';
// The web service of {{project_name}}: serves the front end in public/ and
// proxies /api/* unchanged to the backend ($BACKEND_URL), so the browser only
// ever talks to one origin. Node's standard library only.

const fs = require('node:fs/promises');
const http = require('node:http');
const path = require('node:path');

const PUBLIC_DIR = path.join(__dirname, 'public');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
// Headers that describe one connection, not the message: never forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

async function serveStatic(req, res, pathname) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendJson(res, 405, { error: 'method not allowed' });
  }
  let rel;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return sendJson(res, 400, { error: 'bad path' });
  }
  if (rel.endsWith('/')) rel += 'index.html';
  const file = path.resolve(PUBLIC_DIR, `.${rel}`);
  if (!file.startsWith(PUBLIC_DIR + path.sep)) {
    return sendJson(res, 404, { error: 'not found' });
  }
  let body;
  try {
    body = await fs.readFile(file);
  } catch {
    return sendJson(res, 404, { error: 'not found' });
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
    'content-length': body.length,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function proxy(req, res, backendUrl) {
  if (!backendUrl) {
    return sendJson(res, 502, { error: 'BACKEND_URL is not set' });
  }
  const target = new URL(backendUrl.replace(/\/+$/, '') + req.url);
  const headers = { ...req.headers, host: target.host };
  for (const name of HOP_BY_HOP) delete headers[name];
  headers['x-forwarded-host'] = req.headers.host || '';
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-for'] = req.socket.remoteAddress || '';

  const upstream = http.request(target, { method: req.method, headers, timeout: 10_000 }, (up) => {
    const outHeaders = { ...up.headers };
    for (const name of HOP_BY_HOP) delete outHeaders[name];
    res.writeHead(up.statusCode, outHeaders);
    up.pipe(res);
  });
  upstream.on('timeout', () => upstream.destroy(new Error('backend timed out')));
  upstream.on('error', (err) => {
    if (res.headersSent) return res.destroy(err);
    sendJson(res, 502, { error: 'bad gateway', detail: err.message });
  });
  req.pipe(upstream);
}

function createServer(options = {}) {
  const backendUrl = options.backendUrl ?? process.env.BACKEND_URL;
  const log = options.log ?? console.log;
  return http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://web.invalid');
    if (pathname !== '/healthz') {
      res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode}`));
    }
    if (pathname === '/healthz') {
      return sendJson(res, 200, { status: 'ok' });
    }
    if (pathname === '/api' || pathname.startsWith('/api/')) {
      return proxy(req, res, backendUrl);
    }
    serveStatic(req, res, pathname).catch((err) => {
      log(`error serving ${pathname}: ${err.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    });
  });
}

module.exports = { createServer };

if (require.main === module) {
  const port = Number(process.env.PORT || 3000);
  const host = process.env.HOST || '127.0.0.1';
  const server = createServer();
  server.listen(port, host, () => {
    console.log(`web listening on http://${host}:${port}, /api -> ${process.env.BACKEND_URL || '(BACKEND_URL unset)'}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
