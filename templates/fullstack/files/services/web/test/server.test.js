'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createServer } = require('../server.js');

const listen = (server) => new Promise((resolve) => {
  server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
});
const close = (server) => new Promise((resolve) => server.close(resolve));

let fakeBackend;
let web;
let base;

before(async () => {
  // Stands in for the backend: echoes method, path and body.
  fakeBackend = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, path: req.url, body }));
    });
  });
  const backendUrl = await listen(fakeBackend);
  web = createServer({ backendUrl, log: () => {} });
  base = await listen(web);
});

after(async () => {
  await close(web);
  await close(fakeBackend);
});

test('GET /healthz reports ok', async () => {
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('serves the front end from public/', async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>{{project_name}}<\/title>/);
  const script = await fetch(`${base}/app.js`);
  assert.match(script.headers.get('content-type'), /javascript/);
});

test('/api/* is proxied to the backend with its path and body', async () => {
  const res = await fetch(`${base}/api/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'milk' }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { method: 'POST', path: '/api/items', body: '{"name":"milk"}' });
});

test('paths outside public/ are not served', async () => {
  const res = await fetch(`${base}/..%2fserver.js`);
  assert.equal(res.status, 404);
});

test('an unreachable backend gives 502', async () => {
  const down = createServer({ backendUrl: 'http://127.0.0.1:9', log: () => {} });
  const downBase = await listen(down);
  try {
    const res = await fetch(`${downBase}/api/items`);
    assert.equal(res.status, 502);
  } finally {
    await close(down);
  }
});
