// The real `graphql-ws` client (graphql-transport-ws) follows an order from placement to
// completion over the server's websocket, and a second client resumes with `after`.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');
const { startServer, clientOf } = require('./server.cjs');

const ADMIN = 'admin@example.com';
let server;
let gql;
let register;
let act;
let manualListing;

before(async () => {
  server = await startServer();
  ({ gql, register, act, manualListing } = clientOf(server));
});
after(async () => {
  await server?.stop();
});

function wsClient(token) {
  return createClient({
    url: server.graphql.replace('http://', 'ws://'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
  });
}

/// Collects `count` events of a subscription, then disposes of it.
function collect(client, query, variables, count, field) {
  const events = [];
  let dispose;
  const done = new Promise((resolve, reject) => {
    dispose = client.subscribe({ query, variables }, {
      next(result) {
        if (result.errors) { reject(new Error(JSON.stringify(result.errors))); return; }
        events.push(result.data[field]);
        if (events.length === count) resolve(events);
      },
      error: reject,
      complete() { resolve(events); },
    });
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`only ${events.length} of ${count} events within 15 s`)), 15_000);
  });
  return Promise.race([done, timeout]).finally(() => { clearTimeout(timer); dispose(); });
}

test('graphql-ws follows an order from placement to completion, and resumes with after', async () => {
  const admin = await register(ADMIN, 'Admin');
  server.grantAdmin(ADMIN);
  const seller = await register('seller@example.com', 'Seller');
  const buyer = await register('buyer@example.com', 'Buyer');
  const { listingId } = await manualListing(admin.token, seller.token);

  const client = wsClient(buyer.token);
  const following = collect(client,
    'subscription { myOrderEvents { id fromStatus toStatus action order { id } } }', {}, 7, 'myOrderEvents');
  // graphql-ws subscribes asynchronously; give the server a moment to register it.
  await new Promise((r) => setTimeout(r, 300));

  const order = await act(buyer.token, 'placeOrder', 'PlaceOrderInput', { listingId });
  await act(buyer.token, 'markOrderPaid', 'MarkOrderPaidInput', { orderId: order.id, method: 'bank', reference: 'R1' });
  await act(seller.token, 'confirmOrderPayment', 'OrderIdInput', { orderId: order.id });
  await act(seller.token, 'claimOrder', 'OrderIdInput', { orderId: order.id });
  await act(seller.token, 'startOrder', 'OrderIdInput', { orderId: order.id });
  await act(seller.token, 'deliverOrder', 'DeliverOrderInput', { orderId: order.id, summary: 'Done', score: 80 });
  await act(buyer.token, 'completeOrder', 'OrderIdInput', { orderId: order.id });

  const events = await following;
  assert.deepEqual(events.map((e) => e.toStatus),
    ['PLACED', 'PLACED', 'PAYMENT_HELD', 'CLAIMED', 'IN_PROGRESS', 'DELIVERED', 'COMPLETED']);
  assert.ok(events.every((e) => e.order.id === order.id));
  await client.dispose();

  // A client that saw only the placement resumes from it and gets the other six, once.
  const resumed = wsClient(seller.token);
  const replay = await collect(resumed,
    'subscription($id: ID!, $after: ID) { orderStatusChanged(orderId: $id, after: $after) { id toStatus } }',
    { id: order.id, after: events[0].id }, 6, 'orderStatusChanged');
  assert.deepEqual(replay.map((e) => e.id), events.slice(1).map((e) => e.id));
  await resumed.dispose();
});
