'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { createServer } = require('../server.js');

let server;
let base;

before(async () => {
  server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

test('GET /healthz reports ok', async () => {
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('GET / names the project', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).name, '{{project_name}}');
});

test('unknown paths are 404', async () => {
  const res = await fetch(`${base}/nope`);
  assert.equal(res.status, 404);
});
