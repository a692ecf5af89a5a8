// The reference web client (web/) in headless Chromium against a server seeded with
// `seed --demo`: a buyer and a provider in two browser contexts take an order from browsing to
// a review, the buyer's order page following every move live; an admin resolves a dispute
// with a partial refund and the buyer's page shows it without a reload. Every page must load
// with no console error, no failed request and no response of 400 or more; a screenshot of
// each is written to SCREENSHOT_DIR (scripts/test: the build directory).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, clientOf, launchChromium } = require('./server.cjs');

const DEMO_PASSWORD = 'demo-password';
const BUYER = 'maya@demo.test';
const PROVIDER = 'ava@demo.test'; // Ava Reads Scripts: "Feature screenplay coverage"
const ADMIN = 'admin@demo.test';
const LISTING_TITLE = 'Feature screenplay coverage';
const SHOTS = process.env.SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'web-shots-'));

let server;
let browser;
let gql;
let act;
let register;
let manualListing;
let PASSWORD;
const problems = [];
const shots = [];

before(async () => {
  server = await startServer([], { demo: true });
  ({ gql, act, register, manualListing, PASSWORD } = clientOf(server));
  browser = await launchChromium();
  fs.mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function tokenOf(email) {
  const data = await gql(null, 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    { i: { email, password: DEMO_PASSWORD } });
  return data.login.accessToken;
}

// A signed-in page in a context of its own (its own storage: two people, two browsers).
async function personAt(email, who, password = DEMO_PASSWORD) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  // A tall window, and screenshots of it: a full-page screenshot resizes the page under
  // puppeteer and the next click can miss.
  await page.setViewport({ width: 1100, height: 1400 });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${who} console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${who} page error: ${e}`));
  page.on('requestfailed', (r) => {
    // A websocket closed by navigation is not a failure; everything else is.
    if (!r.url().startsWith('ws')) problems.push(`${who} failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${who} ${r.status()}: ${r.url()}`); });
  await page.goto(`${server.base}/#/signin`);
  await page.waitForSelector('[data-test=signin-form]');
  await shot(page, 'signin');
  await page.type('[data-test=signin-form] input[name=email]', email);
  await page.type('[data-test=signin-form] input[name=password]', password);
  await page.click('[data-test=signin-form] button');
  await page.waitForSelector('[data-test=who]');
  return page;
}

async function shot(page, name) {
  if (shots.includes(name)) return;
  shots.push(name);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function textOf(page, selector) {
  return page.$eval(selector, (el) => el.textContent.trim());
}

async function waitForText(page, selector, expected, timeout = 10_000) {
  try {
    await page.waitForFunction((sel, want) => {
      const el = document.querySelector(sel);
      return el && el.textContent.includes(want);
    }, { timeout }, selector, expected);
  } catch (err) {
    // What the page showed, for the failure's reader.
    const name = `failed-${expected.replace(/\W+/g, '-')}`;
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) }).catch(() => null);
    const alerts = await page.$$eval('[role=alert]', (els) => els.map((e) => e.textContent)).catch(() => []);
    throw new Error(`${selector} never showed "${expected}" (${name}.png; alerts: ${JSON.stringify(alerts)}; problems: ${JSON.stringify(problems)})`, { cause: err });
  }
}

async function clickAction(page, action) {
  const selector = `[data-test=action-${action}]`;
  await page.waitForSelector(selector, { timeout: 10_000 });
  await page.click(selector);
}

test('an order from browsing to a review, followed live, in two browsers', async () => {
  const started = Date.now();
  const buyer = await personAt(BUYER, 'buyer');

  // Browse: filter by category and text, open the provider from the listing's card.
  await buyer.goto(`${server.base}/#/`);
  await buyer.waitForSelector('[data-test=filters]');
  await shot(buyer, 'browse');
  await buyer.select('[data-test=filters] select[name=category]', 'script_coverage');
  await buyer.type('[data-test=filters] input[name=query]', 'feature');
  await buyer.click('[data-test=filters] button');
  await waitForText(buyer, '[data-test=listings]', LISTING_TITLE);
  const categories = await buyer.$$eval('[data-test=listings] li [data-test=category]', (els) => els.map((e) => e.textContent));
  assert.ok(categories.length > 0 && categories.every((c) => c === 'script coverage'), `filtered: ${categories}`);
  await buyer.evaluate((title) => {
    const card = [...document.querySelectorAll('[data-test=listings] li')]
      .find((li) => li.querySelector('[data-test=listing]').textContent === title);
    card.querySelector('[data-test=provider]').click();
  }, LISTING_TITLE);
  await buyer.waitForSelector('[data-test=provider-name]');
  assert.equal(await textOf(buyer, '[data-test=provider-name]'), 'Ava Reads Scripts');
  await shot(buyer, 'provider');

  // The listing, and the order.
  await buyer.evaluate((title) => {
    [...document.querySelectorAll('[data-test=listing]')].find((a) => a.textContent === title).click();
  }, LISTING_TITLE);
  await buyer.waitForSelector('[data-test=place-form]');
  await shot(buyer, 'listing');
  await buyer.type('[data-test=place-form] textarea[name=notes]', 'Please focus on the second act.');
  await buyer.click('[data-test=place-order]');
  await buyer.waitForSelector('[data-test=status]');
  await waitForText(buyer, '[data-test=live]', 'live');
  // The demo's sellers take cards, simulated: the payment is held at once.
  await waitForText(buyer, '[data-test=status]', 'PAYMENT_HELD');
  const orderId = decodeURIComponent(buyer.url().split('#/orders/')[1]);
  await shot(buyer, 'order-buyer');

  // The provider, in a second browser: dashboard, then the order's actions.
  const provider = await personAt(PROVIDER, 'provider');
  await provider.goto(`${server.base}/#/dashboard`);
  await provider.waitForSelector('[data-test=incoming] [data-test=dashboard-order]');
  await shot(provider, 'dashboard');
  await provider.click('[data-test=incoming] [data-test=dashboard-order]');
  await clickAction(provider, 'CLAIM');
  await waitForText(buyer, '[data-test=status]', 'CLAIMED');
  await clickAction(provider, 'START');
  await waitForText(buyer, '[data-test=status]', 'IN_PROGRESS');

  // Deliver with a file, uploaded to the presigned URL.
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'report-')), 'coverage.txt');
  fs.writeFileSync(report, 'Coverage: a strong second act.\n');
  await clickAction(provider, 'DELIVER');
  await provider.type('[data-test=deliver-form] textarea[name=summary]', 'A confident draft.');
  await provider.type('[data-test=deliver-form] input[name=score]', '82');
  const input = await provider.$('[data-test=deliver-form] input[type=file]');
  await input.uploadFile(report);
  await shot(provider, 'order-provider');
  await provider.click('[data-test=deliver-submit]');
  await waitForText(provider, '[data-test=status]', 'DELIVERED');

  // The buyer's page, never reloaded, shows the delivery; the file downloads.
  await waitForText(buyer, '[data-test=status]', 'DELIVERED');
  await buyer.waitForSelector('[data-test=download]');
  const downloaded = await buyer.$eval('[data-test=download]', (a) => fetch(a.href).then((r) => r.text()));
  assert.equal(downloaded, 'Coverage: a strong second act.\n');
  const timeline = await buyer.$$eval('[data-test=timeline] strong', (els) => els.map((e) => e.textContent));
  assert.deepEqual(timeline, ['PLACED', 'PAYMENT_HELD', 'CLAIMED', 'IN_PROGRESS', 'DELIVERED']);

  // Complete and review; the provider sees the review on their profile.
  await clickAction(buyer, 'COMPLETE');
  await waitForText(buyer, '[data-test=status]', 'COMPLETED');
  await clickAction(buyer, 'REVIEW');
  await buyer.select('[data-test=review-form] select[name=rating]', '5');
  await buyer.type('[data-test=review-form] textarea[name=comment]', 'Sharp, useful notes.');
  await buyer.click('[data-test=review-submit]');
  await buyer.waitForSelector('[data-test=review]');
  await shot(buyer, 'order-completed');
  const providerId = (await gql(await tokenOf(PROVIDER), '{ viewer { provider { id } } }')).viewer.provider.id;
  await provider.goto(`${server.base}/#/providers/${providerId}`);
  await waitForText(provider, '[data-test=reviews]', 'Sharp, useful notes.');

  // The seller's invoice book holds the order's invoice.
  await provider.goto(`${server.base}/#/books`);
  await provider.waitForSelector('[data-test=invoices] tbody tr');
  await shot(provider, 'books');

  // The buyer's list of orders.
  await buyer.goto(`${server.base}/#/orders`);
  await waitForText(buyer, 'table', 'Feature screenplay coverage');
  await shot(buyer, 'orders');
  console.log(`buyer and provider flow: ${Date.now() - started} ms`);
});

test('an admin resolves a dispute with a partial refund; the buyer sees it live', async () => {
  const started = Date.now();
  // A delivered order, set up through the API.
  const buyerToken = await tokenOf(BUYER);
  const providerToken = await tokenOf(PROVIDER);
  const listing = (await gql(null, '{ listings(first: 50, filter: { category: "script_coverage" }) { nodes { id title } } }'))
    .listings.nodes.find((l) => l.title === LISTING_TITLE);
  const order = await act(buyerToken, 'placeOrder', 'PlaceOrderInput', { listingId: listing.id });
  for (const step of ['claimOrder', 'startOrder']) {
    await act(providerToken, step, 'OrderIdInput', { orderId: order.id });
  }
  await act(providerToken, 'deliverOrder', 'DeliverOrderInput', { orderId: order.id, summary: 'Thin notes.' });

  // The buyer disputes it from the order's page.
  const buyer = await personAt(BUYER, 'buyer (dispute)');
  await buyer.goto(`${server.base}/#/orders/${order.id}`);
  await waitForText(buyer, '[data-test=live]', 'live');
  await clickAction(buyer, 'OPEN_DISPUTE');
  await buyer.type('[data-test=dispute-form] textarea[name=description]', 'The notes skip the third act.');
  await buyer.click('[data-test=dispute-submit]');
  await waitForText(buyer, '[data-test=dispute-status]', 'OPEN');

  // The admin resolves it: $12.50 back.
  const admin = await personAt(ADMIN, 'admin');
  await admin.goto(`${server.base}/#/admin`);
  await admin.waitForSelector('[data-test=dispute-card]');
  await shot(admin, 'admin');
  // The demo's provider waiting for verification (Hal) is verified from the same page.
  await waitForText(admin, '[data-test=pending-providers]', 'Providers to verify (1)');
  await admin.click('[data-test=pending-providers] button');
  await waitForText(admin, '[data-test=pending-providers]', 'Providers to verify (0)');
  await admin.type('[data-test=resolve-form] input[name=refund]', '12.50');
  await admin.type('[data-test=resolve-form] input[name=notes]', 'Part of the notes were missing.');
  await admin.click('[data-test=resolve-submit]');
  await admin.waitForFunction(() => !document.querySelector('[data-test=dispute-card]'));

  // The buyer's open page shows the outcome without a reload.
  await waitForText(buyer, '[data-test=dispute-status]', 'RESOLVED_PARTIAL');
  await waitForText(buyer, '[data-test=refunded]', '$12.50');
  await shot(buyer, 'order-disputed');
  console.log(`dispute flow: ${Date.now() - started} ms`);
});

test('a MANUAL order: payment instructions, "I have paid", the seller confirms; messages', async () => {
  const adminToken = await tokenOf(ADMIN);
  const seller = await register('manual-seller@example.com', 'Manual Seller');
  const { tenantId, listingId } = await manualListing(adminToken, seller.token, {
    tenantName: 'Wire Only Studio', instructions: 'IBAN DE00 1234, reference your order number',
    providerName: 'Wire Only Reader', title: 'Wired pilot notes', priceCents: '7500', turnaroundDays: 5,
  });

  const buyer = await personAt(BUYER, 'buyer (manual)');
  await buyer.goto(`${server.base}/#/listings/${listingId}`);
  await buyer.waitForSelector('[data-test=place-form]');
  await buyer.click('[data-test=place-order]');
  await waitForText(buyer, '[data-test=live]', 'live');
  assert.equal(await textOf(buyer, '[data-test=status]'), 'PLACED');
  await clickAction(buyer, 'MARK_PAID');
  assert.equal(await textOf(buyer, '[data-test=payment-instructions]'), 'IBAN DE00 1234, reference your order number');
  await buyer.type('[data-test=mark-paid-form] input[name=reference]', 'WIRE-0042');
  await shot(buyer, 'order-manual-payment');
  await buyer.click('[data-test=mark-paid-form] button');
  // The form closes once the API took it; the seller's confirmation is what moves the order.
  await buyer.waitForFunction(() => !document.querySelector('[data-test=mark-paid-form]'));
  assert.deepEqual(await buyer.$$eval('[role=alert]', (els) => els.map((e) => e.textContent)), []);
  await buyer.type('[data-test=messages] textarea[name=body]', 'Sent by wire today.');
  await buyer.click('[data-test=messages] button');
  await waitForText(buyer, '[data-test=messages]', 'Maya Writer: Sent by wire today.');

  const sellerPage = await personAt('manual-seller@example.com', 'seller (manual)', PASSWORD);
  await sellerPage.goto(buyer.url());
  await waitForText(sellerPage, '[data-test=messages]', 'Sent by wire today.');
  // The next message reaches the seller's open page live (messageAdded).
  await waitForText(sellerPage, '[data-test=live]', 'live');
  await buyer.type('[data-test=messages] textarea[name=body]', 'Reference WIRE-0042.');
  await buyer.click('[data-test=messages] button');
  await waitForText(sellerPage, '[data-test=messages]', 'Maya Writer: Reference WIRE-0042.');
  await clickAction(sellerPage, 'CONFIRM_PAYMENT');
  await waitForText(buyer, '[data-test=status]', 'PAYMENT_HELD');

  // The seller's own invoice book: an invoice to an outside client, paid in two parts.
  const contact = await gql(seller.token,
    'mutation($input: ContactInput!) { createContact(input: $input) { contact { id } userErrors { message } } }',
    { input: { tenantId, name: 'Outside Client', email: 'client@example.com' } });
  const invoice = await gql(seller.token,
    'mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id } userErrors { message } } }',
    { input: { tenantId, contactId: contact.createContact.contact.id,
      lineItems: [{ description: 'Table read notes', quantity: 2, unitPriceCents: '4000' }] } });
  const invoiceId = invoice.createInvoice.invoice.id;
  await gql(seller.token,
    'mutation($input: InvoiceIdInput!) { issueInvoice(input: $input) { userErrors { message } } }',
    { input: { invoiceId } });
  await sellerPage.goto(`${server.base}/#/books`);
  await waitForText(sellerPage, '[data-test=invoices]', 'Outside Client');
  await sellerPage.type('[data-test=record-payment] input[name=amount]', '30.00');
  await sellerPage.click('[data-test=record-payment] button');
  await waitForText(sellerPage, '[data-test=invoices]', '$50.00');
  await shot(sellerPage, 'books-payment');
  const balance = await gql(seller.token, 'query($id: ID!) { invoice(id: $id) { balance { cents } payments { amount { cents } } } }', { id: invoiceId });
  assert.equal(balance.invoice.balance.cents, '5000');
});

test('register, keep the session over a reload, sign out', async () => {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`newcomer console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`newcomer page error: ${e}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`newcomer ${r.status()}: ${r.url()}`); });
  await page.goto(`${server.base}/#/signin`);
  await page.waitForSelector('[data-test=signin-form]');
  await page.evaluate(() => [...document.querySelectorAll('button.link')].find((b) => /Register/.test(b.textContent)).click());
  await page.waitForSelector('[data-test=signin-form] input[name=displayName]');
  await page.type('[data-test=signin-form] input[name=email]', 'newcomer@example.com');
  await page.type('[data-test=signin-form] input[name=displayName]', 'Newcomer');
  await page.type('[data-test=signin-form] input[name=password]', 'a long enough password');
  await page.click('[data-test=signin-form] button');
  await waitForText(page, '[data-test=who]', 'Newcomer');
  // The access token lived in memory only: a reload signs in again with the refresh token.
  await page.reload();
  await waitForText(page, '[data-test=who]', 'Newcomer');
  await page.evaluate(() => [...document.querySelectorAll('header button.link')].find((b) => /Sign out/.test(b.textContent)).click());
  await page.waitForSelector('[data-test=nav-signin]');
  await page.reload();
  await page.waitForSelector('[data-test=nav-signin]');
  await context.close();
});

test('an access token about to expire is refreshed before the next request', async () => {
  // A server of its own whose access tokens last 12 s: the app refreshes 10 s before expiry.
  const shortLived = await startServer(['--access-token-ttl-secs', '12'], { demo: true });
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const operations = [];
  page.on('request', (r) => {
    const body = r.postData() || '';
    const name = /"query":"(?:query|mutation|subscription) (\w+)/.exec(body);
    if (name) operations.push(name[1]);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`refresh ${r.status()}: ${r.url()}`); });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`refresh console: ${m.text()}`); });
  try {
    await page.goto(`${shortLived.base}/#/signin`);
    await page.waitForSelector('[data-test=signin-form]');
    await page.type('[data-test=signin-form] input[name=email]', BUYER);
    await page.type('[data-test=signin-form] input[name=password]', DEMO_PASSWORD);
    await page.click('[data-test=signin-form] button');
    await page.waitForSelector('[data-test=who]');
    await new Promise((r) => setTimeout(r, 3000));
    operations.length = 0;
    await page.goto(`${shortLived.base}/#/orders`);
    await page.waitForSelector('table');
    assert.deepEqual(operations.slice(0, 2), ['Refresh', 'MyOrders'], `operations: ${operations}`);
  } finally {
    await context.close();
    await shortLived.stop();
  }
});

test('every page loaded with no console error, failed request or error response', () => {
  console.log(`screenshots in ${SHOTS}: ${shots.join(', ')}`);
  assert.deepEqual(problems, []);
  assert.ok(shots.length >= 10, `screenshots: ${shots}`);
});
