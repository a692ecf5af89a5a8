// A subscription run from GraphiQL in headless Chromium: the token typed into the Headers pane
// travels in graphql-ws's connection_init (GraphiQL merges the headers into it), and the
// result pane shows the order's move made meanwhile through the API.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const puppeteer = require('puppeteer-core');
const { startServer } = require('./server.cjs');

const chromium = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ADMIN = 'admin@example.com';
const PASSWORD = 'correct horse battery';
let server;
let browser;

before(async () => {
  assert.ok(fs.existsSync(chromium), `no Chromium at ${chromium} (apt-get install chromium, or set CHROMIUM_BIN)`);
  server = await startServer();
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function gql(token, query, variables = {}) {
  const response = await fetch(server.graphql, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function register(email, displayName) {
  const data = await gql(null,
    'mutation($input: RegisterInput!) { register(input: $input) { accessToken userErrors { message } } }',
    { input: { email, password: PASSWORD, displayName } });
  assert.deepEqual(data.register.userErrors, []);
  return data.register.accessToken;
}

async function act(token, mutation, inputType, input) {
  const data = await gql(token,
    `mutation($input: ${inputType}!) { ${mutation}(input: $input) { order { id status } userErrors { message } } }`,
    { input });
  assert.deepEqual(data[mutation].userErrors, [], mutation);
  return data[mutation].order;
}

test('GraphiQL runs orderStatusChanged over the websocket with the Headers pane token', async () => {
  const admin = await register(ADMIN, 'Admin');
  server.grantAdmin(ADMIN);
  const adminToken = (await gql(null,
    'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    { i: { email: ADMIN, password: PASSWORD } })).login.accessToken;
  assert.ok(admin);
  const seller = await register('seller@example.com', 'Seller');
  const buyer = await register('buyer@example.com', 'Buyer');
  const tenant = await gql(seller,
    'mutation { createTenant(input: { name: "Manual Co", paymentMode: MANUAL, paymentInstructions: "Bank transfer" }) { tenant { id } } }');
  const provider = await gql(seller,
    'mutation($input: CreateProviderInput!) { createProvider(input: $input) { provider { id } userErrors { message } } }',
    { input: { displayName: 'Reader', tenantId: tenant.createTenant.tenant.id } });
  const providerId = provider.createProvider.provider.id;
  await gql(adminToken,
    'mutation($input: SetProviderStatusInput!) { setProviderStatus(input: $input) { userErrors { message } } }',
    { input: { providerId, status: 'ACTIVE', reason: 'checked' } });
  const listing = await gql(seller,
    'mutation($input: CreateListingInput!) { createListing(input: $input) { listing { id } userErrors { message } } }',
    { input: { providerId, title: 'Script coverage', category: 'script_coverage', priceCents: '5000', turnaroundDays: 3, publish: true } });
  const order = await act(buyer, 'placeOrder', 'PlaceOrderInput', { listingId: listing.createListing.listing.id });
  await act(buyer, 'markOrderPaid', 'MarkOrderPaidInput', { orderId: order.id, method: 'bank', reference: 'R1' });
  await act(seller, 'confirmOrderPayment', 'OrderIdInput', { orderId: order.id });

  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const query = `subscription { orderStatusChanged(orderId: "${order.id}") { toStatus action } }`;
  const headers = JSON.stringify({ Authorization: `Bearer ${buyer}` });
  // GraphiQL restores its editors from localStorage: what a developer typed last time.
  await page.evaluateOnNewDocument((q, h) => {
    localStorage.setItem('graphiql:query', q);
    localStorage.setItem('graphiql:headers', h);
  }, query, headers);
  await page.setViewport({ width: 1400, height: 900 });
  await page.goto(server.graphql, { waitUntil: 'networkidle0', timeout: 30_000 });
  await page.waitForSelector('.graphiql-execute-button', { timeout: 15_000 });
  await page.click('.graphiql-execute-button');
  // The socket opens and subscribes; then the provider claims the order through the API.
  await new Promise((r) => setTimeout(r, 1000));
  await act(seller, 'claimOrder', 'OrderIdInput', { orderId: order.id });
  await page.waitForFunction(
    () => /CLAIMED/.test(document.querySelector('.graphiql-response')?.innerText ?? ''),
    { timeout: 15_000 },
  ).catch(async (err) => {
    const shown = await page.$eval('.graphiql-response', (el) => el.innerText).catch(() => '(none)');
    throw new Error(`${err.message}; the result pane shows: ${shown}`);
  });
  const shown = await page.$eval('.graphiql-response', (el) => el.innerText);
  assert.match(shown, /"toStatus": "CLAIMED"/);
  assert.match(shown, /"action": "claim"/);
  if (process.env.SCREENSHOT_DIR) {
    await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/graphiql-subscription.png` });
  }
  assert.deepEqual(pageErrors, [], 'errors in the page');
});
