// A subscription run from GraphiQL in headless Chromium: the token typed into the Headers pane
// travels in graphql-ws's connection_init (GraphiQL merges the headers into it), and the
// result pane shows the order's move made meanwhile through the API.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, clientOf, launchChromium } = require('./server.cjs');

const ADMIN = 'admin@example.com';
let server;
let browser;
let gql;
let register;
let act;
let manualListing;
let PASSWORD;

before(async () => {
  server = await startServer();
  ({ gql, register, act, manualListing, PASSWORD } = clientOf(server));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('GraphiQL runs orderStatusChanged over the websocket with the Headers pane token', async () => {
  await register(ADMIN, 'Admin');
  server.grantAdmin(ADMIN);
  const adminToken = (await gql(null,
    'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    { i: { email: ADMIN, password: PASSWORD } })).login.accessToken;
  const seller = (await register('seller@example.com', 'Seller')).token;
  const buyer = (await register('buyer@example.com', 'Buyer')).token;
  const { listingId } = await manualListing(adminToken, seller);
  const order = await act(buyer, 'placeOrder', 'PlaceOrderInput', { listingId });
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
