'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createServer } = require('../server.js');

const listen = (server) => new Promise((resolve) => {
  server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
});
const close = (server) => new Promise((resolve) => server.close(resolve));

let fakeApi;
let gateway;
let base;

before(async () => {
  // Stands in for the api service: echoes the path it was asked for.
  fakeApi = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, method: req.method }));
  });
  const apiUrl = await listen(fakeApi);
  gateway = createServer({ apiUrl, log: () => {} });
  base = await listen(gateway);
});

after(async () => {
  await close(gateway);
  await close(fakeApi);
});

test('GET /healthz reports ok', async () => {
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('GET / serves the HTML page', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(await res.text(), /<title>{{project_name}}<\/title>/);
});

test('/api/* is proxied to the api without the /api prefix', async () => {
  const res = await fetch(`${base}/api/items?limit=2`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { path: '/items?limit=2', method: 'GET' });
});

test('paths outside public/ are not served', async () => {
  const res = await fetch(`${base}/..%2fserver.js`);
  assert.equal(res.status, 404);
});

test('an unreachable api gives 502', async () => {
  const down = createServer({ apiUrl: 'http://127.0.0.1:9', log: () => {} });
  const downBase = await listen(down);
  try {
    const res = await fetch(`${downBase}/api/items`);
    assert.equal(res.status, 502);
  } finally {
    await close(down);
  }
});
