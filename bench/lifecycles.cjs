// Order lifecycles per second (a measurement, not a test), driven by bench/run: `--workers`
// loops, each placing an order as one of the seeded buyers and driving it place → claim →
// start → deliver → complete, for `--seconds`. Node's fetch keeps its connections alive, so
// the client costs the shared two cores far less than one Python thread per buyer did.
// Prints one JSON line: completed, the placed order ids (bench/run checks every one is
// COMPLETED with a balanced ledger), the first failures, and the seconds it ran.
//
//   node bench/lifecycles.cjs --base http://127.0.0.1:PORT --seconds 20 --workers 32 \
//     --listing LISTING_ID --seller EMAIL --buyers EMAIL,EMAIL,… [--password …]
'use strict';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
  if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
  return pairs;
}, []));
const BASE = args.base;
const SECONDS = Number(args.seconds ?? 20);
const WORKERS = Number(args.workers ?? 32);
const PASSWORD = args.password ?? 'scale seed password';

async function gql(token, query, variables) {
  const response = await fetch(`${BASE}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 200));
  return body.data;
}

async function login(email) {
  const data = await gql(null, 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
    { i: { email, password: PASSWORD } });
  return data.login.accessToken;
}

async function move(field, orderId, token, extra = '') {
  const data = await gql(token,
    `mutation($id: ID!) { ${field}(input: { orderId: $id${extra} }) { userErrors { message } } }`,
    { id: orderId });
  if (data[field].userErrors.length) throw new Error(`${field}: ${JSON.stringify(data[field].userErrors)}`);
}

async function main() {
  const seller = await login(args.seller);
  const buyers = [];
  for (const email of args.buyers.split(',')) buyers.push(await login(email));
  const placed = [];
  const failures = [];
  let completed = 0;
  const started = performance.now();
  const stopAt = started + SECONDS * 1000;

  async function worker(buyer) {
    while (performance.now() < stopAt) {
      try {
        const data = await gql(buyer,
          'mutation($l: ID!) { placeOrder(input: { listingId: $l }) { order { id } userErrors { message } } }',
          { l: args.listing });
        if (!data.placeOrder.order) throw new Error(`placeOrder: ${JSON.stringify(data.placeOrder.userErrors)}`);
        const orderId = data.placeOrder.order.id;
        placed.push(orderId);
        await move('claimOrder', orderId, seller);
        await move('startOrder', orderId, seller);
        await move('deliverOrder', orderId, seller, ', summary: "Done"');
        await move('completeOrder', orderId, buyer);
        completed += 1;
      } catch (err) {
        failures.push(String(err.message ?? err).slice(0, 200));
        return;
      }
    }
  }

  await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(buyers[i % buyers.length])));
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ completed, placed, failures: failures.slice(0, 3), seconds, workers: WORKERS })}\n`);
}

main().catch((err) => { console.error(err); process.exit(1); });
