// The schema as clients rebuild it: graphql-js's introspection documents (the stored fixtures)
// and GraphQL Code Generator's URL loader each rebuild, with buildClientSchema, into a schema
// that prints exactly as the exported schema.graphql.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {
  buildClientSchema, buildSchema, lexicographicSortSchema, printSchema,
} = require('graphql');
const { UrlLoader } = require('@graphql-tools/url-loader');
const { startServer } = require('./server.cjs');

const root = path.resolve(__dirname, '..', '..', '..');
const fixtures = path.join(__dirname, '..', 'it', 'fixtures', 'introspection');
const printed = (schema) => printSchema(lexicographicSortSchema(schema));
const exported = printed(buildSchema(fs.readFileSync(path.join(root, 'schema.graphql'), 'utf8')));

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function post(url, body) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

for (const file of fs.readdirSync(fixtures).filter((f) => f.endsWith('.graphql'))) {
  test(`${file} rebuilds into the exported schema`, async () => {
    const query = fs.readFileSync(path.join(fixtures, file), 'utf8');
    const { status, body } = await post(server.graphql, { query, operationName: 'IntrospectionQuery' });
    assert.equal(status, 200);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.equal(printed(buildClientSchema(body.data)), exported);
  });
}

test("GraphQL Code Generator's URL loader loads the exported schema", async () => {
  const [source] = await new UrlLoader().load(server.graphql, {});
  assert.equal(printed(source.schema), exported);
});

test('a changed schema would not compare equal (the comparison can fail)', () => {
  const changed = fs.readFileSync(path.join(root, 'schema.graphql'), 'utf8')
    .replace(/type Query \{/, 'type Query {\n  extraField: Int');
  assert.notEqual(printed(buildSchema(changed)), exported);
});
