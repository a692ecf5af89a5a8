// Subscription fan-out benchmark (a measurement, not a test): opens N websocket subscribers
// (graphql-transport-ws, one subscription per socket), half on orderStatusChanged of one order
// and half on myOrderEvents of one buyer, drives order events through the API, and reports
// delivery latency p50/p99 (from the mutation's start to the subscriber's receipt), lost and
// duplicated deliveries, and the server's peak RSS.
//
//   node bench/realtime.cjs --subscribers 10000 --orders 40 [--buyers 10] [--parallel 40]
//     [--bin target/release/marketplace]
// --parallel: how many orders move at once (default all: the worst burst, every order's
// subscribers receiving at the same moment).
//
// Run by scripts/bench-realtime, which builds the binary and installs the npm packages.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
  if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
  return pairs;
}, []));
const SUBSCRIBERS = Number(args.subscribers ?? 1000);
const ORDERS = Number(args.orders ?? 20);
const BUYERS = Number(args.buyers ?? 10);
// How many orders move at the same time (default: all of them at once, the worst burst).
const PARALLEL = Number(args.parallel ?? ORDERS);
const BIN = args.bin ?? process.env.MARKETPLACE_BIN;
const PASSWORD = 'correct horse battery';
const ADMIN = 'admin@example.com';

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

// CPU seconds a process has used (user + system), from /proc (clock ticks of 1/100 s).
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main() {
  if (!BIN) throw new Error('--bin or MARKETPLACE_BIN must name the server binary');
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'marketplace-bench-'));
  const serverArgs = ['serve', '--bind-addr', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--jwt-secret', 'bench-secret-0123456789abcdef0123456789', '--admin-emails', ADMIN,
    '--jobs-interval-secs', '0', '--log-format', 'json', '--access-token-ttl-secs', '3600',
    // The load generator is one address making thousands of calls: budgets are not measured here.
    '--query-budget', '100000000', '--query-budget-restore-per-sec', '100000000',
    '--auth-attempts-per-ip-per-min', '1000000', '--auth-attempts-per-email-per-min', '1000000'];
  if (process.env.DATABASE_URL) serverArgs.push('--database-url', process.env.DATABASE_URL);
  const child = spawn(BIN, serverArgs, { env: { ...process.env, RUST_LOG: 'error' }, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/health/ready`)).ok) break; } catch { /* starting */ }
    if (i > 300) throw new Error('server not ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssKiB(child.pid)); }, 100);

  async function gql(token, query, variables = {}) {
    const r = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = await r.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  }
  async function register(email) {
    const d = await gql(null, 'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }',
      { i: { email, password: PASSWORD, displayName: email.split('@')[0] } });
    return { token: d.register.accessToken, id: d.register.user.id };
  }
  async function act(token, mutation, type, input) {
    const d = await gql(token, `mutation($i: ${type}!) { ${mutation}(input: $i) { order { id status } userErrors { message } } }`, { i: input });
    if (d[mutation].userErrors.length) throw new Error(JSON.stringify(d[mutation].userErrors));
    return d[mutation].order;
  }

  // A MANUAL seller, buyers, and ORDERS orders held and ready to move.
  const admin = await register(ADMIN);
  // Registering makes nobody an admin: grant it as an operator would.
  const grantArgs = ['admin', 'grant', ADMIN, '--data-dir', dataDir,
    '--jwt-secret', 'bench-secret-0123456789abcdef0123456789', '--log-format', 'json'];
  if (process.env.DATABASE_URL) grantArgs.push('--database-url', process.env.DATABASE_URL);
  require('node:child_process').execFileSync(BIN, grantArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
  const seller = await register('seller@example.com');
  const tenant = await gql(seller.token, 'mutation { createTenant(input: { name: "Bench Co", paymentMode: MANUAL, paymentInstructions: "Bank" }) { tenant { id } } }');
  const provider = await gql(seller.token, 'mutation($i: CreateProviderInput!) { createProvider(input: $i) { provider { id } } }',
    { i: { displayName: 'Bench Reader', tenantId: tenant.createTenant.tenant.id } });
  const providerId = provider.createProvider.provider.id;
  await gql(admin.token, 'mutation($i: SetProviderStatusInput!) { setProviderStatus(input: $i) { userErrors { message } } }',
    { i: { providerId, status: 'ACTIVE', reason: 'bench' } });
  const listing = await gql(seller.token, 'mutation($i: CreateListingInput!) { createListing(input: $i) { listing { id } } }',
    { i: { providerId, title: 'Bench coverage', category: 'script_coverage', priceCents: '5000', turnaroundDays: 3, publish: true } });
  const listingId = listing.createListing.listing.id;
  const buyers = [];
  for (let b = 0; b < BUYERS; b++) buyers.push(await register(`buyer${b}@example.com`));
  const orders = [];
  for (let o = 0; o < ORDERS; o++) {
    const buyer = buyers[o % BUYERS];
    const order = await act(buyer.token, 'placeOrder', 'PlaceOrderInput', { listingId });
    await act(buyer.token, 'markOrderPaid', 'MarkOrderPaidInput', { orderId: order.id, method: 'bank', reference: `R${o}` });
    await act(seller.token, 'confirmOrderPayment', 'OrderIdInput', { orderId: order.id });
    orders.push({ id: order.id, buyer });
  }
  const setupRss = rssKiB(child.pid);

  // Subscribers: even ones follow an order, odd ones a buyer's orders.
  const received = new Map(); // subscriber index → Map(event id → count)
  const latencies = [];
  const sentAt = new Map(); // `${order id}:${status}` → when the mutation causing it started
  const expected = new Map(); // subscriber index → count expected
  const sockets = [];
  const url = `ws://127.0.0.1:${port}/graphql`;
  let acked = 0;
  let openErrors = 0;
  let unopened = 0;
  await new Promise((resolveAll) => {
    let pending = SUBSCRIBERS;
    const opened = () => { if (--pending === 0) resolveAll(); };
    // A handshake lost in the listen backlog neither opens nor fails: stop waiting after 60 s
    // and count what is missing.
    setTimeout(() => { unopened = pending; resolveAll(); }, 60_000).unref();
    for (let s = 0; s < SUBSCRIBERS; s++) {
      const order = orders[Math.floor(s / 2) % orders.length];
      const perOrder = s % 2 === 0;
      const token = order.buyer.token;
      const ws = new WebSocket(url, 'graphql-transport-ws');
      sockets.push(ws);
      received.set(s, new Map());
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      ws.on('error', () => { openErrors++; opened(); });
      ws.on('message', (raw) => {
        const msg = JSON.parse(raw);
        if (msg.type === 'connection_ack') {
          acked++;
          ws.send(JSON.stringify({
            id: 's', type: 'subscribe', payload: perOrder
              ? { query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { id toStatus order { id } } }', variables: { id: order.id } }
              : { query: 'subscription { myOrderEvents { id toStatus order { id } } }' },
          }));
          opened();
        } else if (msg.type === 'ping') {
          ws.send(JSON.stringify({ type: 'pong' }));
        } else if (msg.type === 'next') {
          const event = msg.payload.data && (msg.payload.data.orderStatusChanged || msg.payload.data.myOrderEvents);
          if (!event) { console.error('error payload', JSON.stringify(msg.payload)); return; }
          const seen = received.get(s);
          seen.set(event.id, (seen.get(event.id) ?? 0) + 1);
          const start = sentAt.get(`${event.order.id}:${event.toStatus}`);
          if (start !== undefined) latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      });
    }
  });
  // Nothing moves before every subscription has run its start (its mark is "now": an event
  // committed before it is not sent). The server counts the streams on its bus.
  const acksDone = Date.now();
  let started = 0;
  while (Date.now() - acksDone < 60_000) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = /^event_bus_subscribers (\d+)/m.exec(text);
    started = m ? Number(m[1]) : 0;
    if (started >= SUBSCRIBERS) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const startsMs = Date.now() - acksDone;
  // The mark is taken right after a stream registers.
  await new Promise((r) => setTimeout(r, 500));
  const connectedRss = rssKiB(child.pid);

  // Drive: every order through claim → start → deliver → complete, orders in parallel.
  const steps = [['claimOrder', 'OrderIdInput', 's', 'CLAIMED'], ['startOrder', 'OrderIdInput', 's', 'IN_PROGRESS'],
    ['deliverOrder', 'DeliverOrderInput', 's', 'DELIVERED'], ['completeOrder', 'OrderIdInput', 'b', 'COMPLETED']];
  const driveStart = Date.now();
  const serverCpuStart = cpuSeconds(child.pid);
  const clientCpuStart = process.cpuUsage();
  const queue = [...orders];
  await Promise.all(Array.from({ length: Math.max(1, PARALLEL) }, async () => {
    for (let order = queue.shift(); order; order = queue.shift()) {
      for (const [mutation, type, who, status] of steps) {
        const input = mutation === 'deliverOrder' ? { orderId: order.id, summary: 'ok', score: 70 } : { orderId: order.id };
        sentAt.set(`${order.id}:${status}`, process.hrtime.bigint());
        await act(who === 's' ? seller.token : order.buyer.token, mutation, type, input);
      }
    }
  }));
  const driveMs = Date.now() - driveStart;
  // An order's subscriber expects its order's 4 events; a buyer's, 4 per order of that buyer.
  const ordersOf = new Map();
  for (const order of orders) ordersOf.set(order.buyer.id, (ordersOf.get(order.buyer.id) ?? 0) + 1);
  for (let s = 0; s < SUBSCRIBERS; s++) {
    const order = orders[Math.floor(s / 2) % orders.length];
    expected.set(s, s % 2 === 0 ? steps.length : steps.length * ordersOf.get(order.buyer.id));
  }
  const settleUntil = Date.now() + 10_000;
  const deliveredAll = () => [...received.entries()].every(([s, m]) => m.size >= expected.get(s));
  while (!deliveredAll() && Date.now() < settleUntil) await new Promise((r) => setTimeout(r, 100));
  // From the first mutation to the last delivery (or the settle timeout): the server's CPU
  // against this client's, which shares the machine's cores with it.
  const serverCpu = cpuSeconds(child.pid) - serverCpuStart;
  const clientUsage = process.cpuUsage(clientCpuStart);
  const settledMs = Date.now() - driveStart;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, rssKiB(child.pid));

  let lost = 0;
  let duplicated = 0;
  for (const [s, seen] of received) {
    lost += Math.max(0, expected.get(s) - seen.size);
    for (const count of seen.values()) duplicated += count - 1;
  }
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1) : 'n/a';
  const report = {
    backend: process.env.DATABASE_URL ? 'postgres' : 'sqlite',
    subscribers: SUBSCRIBERS, acked, openErrors, unopened, orders: ORDERS, buyers: BUYERS, parallel: Math.min(PARALLEL, ORDERS),
    events: ORDERS * steps.length, deliveriesExpected: [...expected.values()].reduce((a, b) => a + b, 0),
    deliveries: latencies.length, lost, duplicated,
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: latencies.length ? latencies[latencies.length - 1].toFixed(1) : 'n/a' },
    startsMs,
    streamsStarted: started,
    driveMs,
    settledMs,
    cpuSeconds: { server: serverCpu.toFixed(2), client: ((clientUsage.user + clientUsage.system) / 1e6).toFixed(2) },
    rssMiB: { afterSetup: (setupRss / 1024).toFixed(1), connected: (connectedRss / 1024).toFixed(1), peak: (peakRss / 1024).toFixed(1) },
  };
  console.log(JSON.stringify(report, null, 2));
  for (const ws of sockets) ws.terminate();
  child.kill('SIGTERM');
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err) => { console.error(err); process.exit(1); });
