'use strict';
// {{project_name}}: {{description}}
// A dependency-free HTTP server. Listens on $HOST:$PORT (devhost sets both).

const http = require('node:http');

const PROJECT = '{{project_name}}';
// LOG_LEVEL=warn or error silences the request log; health checks are never logged.
const logRequests = !['warn', 'warning', 'error'].includes((process.env.LOG_LEVEL || 'info').toLowerCase());

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

function handle(req, res) {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendJson(res, 405, { error: 'method not allowed' });
  }
  switch (pathname) {
    case '/':
      return sendJson(res, 200, { name: PROJECT, message: `Hello from ${PROJECT}!` });
    case '/healthz':
      return sendJson(res, 200, { status: 'ok' });
    default:
      return sendJson(res, 404, { error: 'not found' });
  }
}

function createServer() {
  return http.createServer((req, res) => {
    if (logRequests && req.url !== '/healthz') {
      res.on('finish', () => console.log(`${req.method} ${req.url} ${res.statusCode}`));
    }
    handle(req, res);
  });
}

module.exports = { createServer };

if (require.main === module) {
  const port = Number(process.env.PORT || 3000);
  const host = process.env.HOST || '127.0.0.1';
  const server = createServer();
  server.listen(port, host, () => console.log(`${PROJECT} listening on http://${host}:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
