// graphql-http's audit of the GraphQL over HTTP specification against the real server: every
// MUST and every SHOULD must be ok. The counts by result are printed for the note.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { auditServer } = require('graphql-http');
const { startServer } = require('./server.cjs');

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

test('graphql-http audit: every MUST and SHOULD is ok', async () => {
  const results = await auditServer({ url: server.graphql });
  const counts = {};
  const failing = [];
  for (const result of results) {
    counts[result.status] = (counts[result.status] || 0) + 1;
    if (result.status !== 'ok') {
      const response = result.response ? ` (HTTP ${result.response.status})` : '';
      failing.push(`${result.status}: ${result.name}: ${result.reason}${response}`);
    }
  }
  console.log(`graphql-http audit: ${results.length} checks: ${JSON.stringify(counts)}`);
  assert.ok(results.length >= 50, `only ${results.length} audits ran`);
  assert.deepEqual(failing, []);
});
