// GraphiQL as a developer opens it: headless Chromium (Debian's chromium) loads GET /graphql,
// every file the page needs comes from the API itself, GraphiQL introspects the schema, and
// its documentation explorer lists the Query type and its fields.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, launchChromium } = require('./server.cjs');

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("GraphiQL's documentation explorer lists Query and its fields", async () => {
  const page = await browser.newPage();
  const foreign = [];
  const failed = [];
  const pageErrors = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(server.base) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.url()} ${r.status()}`); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // The page's Content-Security-Policy reports what it blocks on the console.
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });

  await page.setViewport({ width: 1400, height: 900 });
  await page.goto(server.graphql, { waitUntil: 'networkidle0', timeout: 30_000 });
  await page.waitForSelector('.graphiql-container', { timeout: 15_000 });
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.waitForFunction(
    () => document.querySelector('.graphiql-doc-explorer')?.innerText.includes('Query'),
    { timeout: 15_000 },
  );
  // Into the Query type: its fields come from the introspected schema.
  const [queryLink] = await page.$$('xpath/.//a[contains(@class, "graphiql-doc-explorer-type-name") and text()="Query"]');
  assert.ok(queryLink, 'a link to Query in the explorer');
  await queryLink.click();
  await page.waitForFunction(
    () => /listings/.test(document.querySelector('.graphiql-doc-explorer')?.innerText ?? ''),
    { timeout: 15_000 },
  );
  const explorer = await page.$eval('.graphiql-doc-explorer', (el) => el.innerText);
  for (const field of ['listings', 'providers', 'viewer', 'node']) {
    assert.match(explorer, new RegExp(`\\b${field}\\b`), `Query.${field} in the explorer`);
  }
  if (process.env.SCREENSHOT_DIR) {
    await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/graphiql-docs.png` });
  }
  assert.deepEqual(foreign, [], 'requests that left the API');
  assert.deepEqual(failed, [], 'requests that failed');
  assert.deepEqual(pageErrors, [], 'errors in the page');
});
