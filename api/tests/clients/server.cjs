// Starts the real server binary (MARKETPLACE_BIN) on a free port with a fresh SQLite database,
// waits until it is ready, and stops it when the test file ends.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// `options.demo`: the database is seeded with `seed --demo` before the server starts.
async function startServer(extraArgs = [], options = {}) {
  const bin = process.env.MARKETPLACE_BIN;
  if (!bin) throw new Error('MARKETPLACE_BIN must name the built server binary');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'marketplace-client-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const args = [
    'serve',
    '--bind-addr', `127.0.0.1:${port}`,
    '--data-dir', dataDir,
    '--jwt-secret', 'client-checks-secret-0123456789abcdef',
    '--log-format', 'json',
    '--jobs-interval-secs', '0',
    ...extraArgs,
  ];
  const env = { ...process.env, RUST_LOG: 'warn' };
  for (const key of Object.keys(env)) {
    // The server reads its settings from the environment too; keep the caller's out.
    if (/^(APP_ENV|DATABASE_URL|GRAPHIQL|GRAPHQL_INTROSPECTION|STRIPE_|STORAGE_URL|WEB_APP)/.test(key)) delete env[key];
  }
  if (options.demo) {
    execFileSync(bin, ['seed', '--demo', '--data-dir', dataDir,
      '--jwt-secret', 'client-checks-secret-0123456789abcdef', '--log-format', 'json'],
    { env, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const child = spawn(bin, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`server exited with ${exited}`);
    try {
      const r = await fetch(`${base}/health/ready`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('server did not become ready in 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    graphql: `${base}/graphql`,
    // Registering makes nobody an admin: the operator grants it to an existing account.
    grantAdmin(email) {
      execFileSync(bin, ['admin', 'grant', email, '--data-dir', dataDir,
        '--jwt-secret', 'client-checks-secret-0123456789abcdef', '--log-format', 'json'],
      { env, stdio: ['ignore', 'ignore', 'inherit'] });
    },
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const PASSWORD = 'correct horse battery';

// GraphQL over HTTP against a started server, for the checks' own setup: every call must
// succeed without errors.
function clientOf(server) {
  const assert = require('node:assert/strict');
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
      'mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } userErrors { message } } }',
      { input: { email, password: PASSWORD, displayName } });
    assert.deepEqual(data.register.userErrors, []);
    return { token: data.register.accessToken, id: data.register.user.id };
  }
  async function act(token, mutation, inputType, input) {
    const data = await gql(token,
      `mutation($input: ${inputType}!) { ${mutation}(input: $input) { order { id status } userErrors { message } } }`,
      { input });
    assert.deepEqual(data[mutation].userErrors, [], mutation);
    return data[mutation].order;
  }
  // A MANUAL seller's tenant, its provider made ACTIVE by an admin, and one published listing.
  async function manualListing(adminToken, sellerToken, {
    tenantName = 'Manual Co', instructions = 'Bank transfer', providerName = 'Reader',
    title = 'Script coverage', priceCents = '5000', turnaroundDays = 3,
  } = {}) {
    const tenant = await gql(sellerToken,
      'mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }',
      { input: { name: tenantName, paymentMode: 'MANUAL', paymentInstructions: instructions } });
    const tenantId = tenant.createTenant.tenant.id;
    const provider = await gql(sellerToken,
      'mutation($input: CreateProviderInput!) { createProvider(input: $input) { provider { id } userErrors { message } } }',
      { input: { displayName: providerName, tenantId } });
    const providerId = provider.createProvider.provider.id;
    await gql(adminToken,
      'mutation($input: SetProviderStatusInput!) { setProviderStatus(input: $input) { userErrors { message } } }',
      { input: { providerId, status: 'ACTIVE', reason: 'checked' } });
    const listing = await gql(sellerToken,
      'mutation($input: CreateListingInput!) { createListing(input: $input) { listing { id } userErrors { message } } }',
      { input: { providerId, title, category: 'script_coverage', priceCents, turnaroundDays, publish: true } });
    return { tenantId, providerId, listingId: listing.createListing.listing.id };
  }
  return { gql, register, act, manualListing, PASSWORD };
}

// Debian's chromium, headless, for the GraphiQL checks.
async function launchChromium() {
  const assert = require('node:assert/strict');
  const puppeteer = require('puppeteer-core');
  const chromium = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
  assert.ok(fs.existsSync(chromium), `no Chromium at ${chromium} (apt-get install chromium, or set CHROMIUM_BIN)`);
  return puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

module.exports = { startServer, clientOf, launchChromium };
