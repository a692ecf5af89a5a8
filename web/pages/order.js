// An order: its timeline, live through `orderStatusChanged` (resuming with `after` when the
// socket comes back), the actions `availableActions` allows this viewer, the delivery with its
// file, the review, the dispute and the messages with the other party.
import { useEffect, useState } from '../vendor/hooks.mjs';
import { money, mutate, subscriptions } from '../api.js';
import { date, formValues, html, link, Loading, Problem, useAction, useQuery } from '../ui.js';

// The page's one query.
const ORDER = `query OrderPage($id: ID!) {
  stripePublishableKey
  order(id: $id) {
    id number status paymentMode paymentClientSecret isLate slaDeadline autoCompleteAt notes
    price { cents currencyCode } platformFee { cents currencyCode } providerPayout { cents currencyCode }
    refunded { cents currencyCode }
    buyer { id displayName }
    provider { id displayName user { id } tenant { paymentInstructions } }
    listing { id title }
    availableActions
    events { id fromStatus toStatus action actorKind note occurredAt }
    delivery { id revision summary strengths weaknesses recommendations score
               file { fileName byteSize downloadUrl } }
    review { id rating comment providerReply }
    dispute { id status reason description adminNotes refundAmount { cents currencyCode } }
    thread { id messages(last: 30) { nodes { id body createdAt sender { id displayName } } } }
  }
}`;

const EVENTS = `subscription OrderEvents($id: ID!, $after: ID) {
  orderStatusChanged(orderId: $id, after: $after) { id toStatus }
}`;

const FIELDS = 'userErrors { message code field }';
const simple = (name) => `mutation($input: OrderIdInput!) { ${name}(input: $input) { ${FIELDS} } }`;
const MUTATIONS = {
  CONFIRM_PAYMENT: ['confirmOrderPayment', 'Confirm payment received'],
  CLAIM: ['claimOrder', 'Claim'],
  DECLINE: ['declineOrder', 'Decline'],
  START: ['startOrder', 'Start work'],
  COMPLETE: ['completeOrder', 'Accept and complete'],
};

/**
 * Follows a resumable subscription (`field` of `query`) from `after`, calling `onEvent` for
 * each event; returns the socket's state. graphql-ws sends this same payload again when it
 * reconnects: moving `after` forward with every event makes the server replay exactly what
 * the page has not seen. It subscribes once per `key`; `after` then moves inside the payload.
 */
function useStream(query, key, variables, field, onEvent) {
  const [live, setLive] = useState('connecting');
  useEffect(() => {
    if (!key) return undefined;
    const payload = { query, variables };
    const client = subscriptions();
    const offs = [
      client.on('connected', () => setLive('live')),
      client.on('closed', () => setLive('reconnecting')),
    ];
    const stop = client.subscribe(payload, {
      next: (message) => {
        const event = message.data && message.data[field];
        if (event) {
          payload.variables = { ...payload.variables, after: event.id };
          onEvent(event);
        }
      },
      error: () => setLive('stopped'),
      complete: () => setLive('stopped'),
    });
    return () => {
      offs.forEach((off) => off());
      stop();
    };
  }, [key]);
  return live;
}

const MESSAGES = `subscription ThreadMessages($threadId: ID!, $after: ID) {
  messageAdded(threadId: $threadId, after: $after) { id }
}`;

export function OrderPage({ id, viewer }) {
  const state = useQuery(ORDER, { id });
  const order = state.data && state.data.order;
  const events = order ? order.events : [];
  const lastEvent = events.length ? events[events.length - 1].id : null;
  const live = useStream(EVENTS, lastEvent && `order:${id}`, { id, after: lastEvent },
    'orderStatusChanged', state.reload);
  // New messages of the order's thread show as they are sent.
  const thread = order && order.thread;
  const lastMessage = thread && thread.messages.nodes.length
    ? thread.messages.nodes[thread.messages.nodes.length - 1].id : null;
  useStream(MESSAGES, thread && `thread:${thread.id}`, { threadId: thread && thread.id, after: lastMessage },
    'messageAdded', state.reload);
  if (!viewer) return html`<p><a href=${link('/signin')}>Sign in</a> to see this order.</p>`;
  return html`<${Loading} state=${state}>${() => order ? html`
    <h1>Order ${order.number} <span class="status" data-test="status">${order.status}</span></h1>
    <p class="muted" data-test="live">updates: ${live}</p>
    <${Problem} error=${state.error} />
    <p><a href=${link(`/listings/${order.listing.id}`)}>${order.listing.title}</a> ·
      buyer ${order.buyer.displayName} · provider ${order.provider.displayName}</p>
    <p>${money(order.price)} (fee ${money(order.platformFee)}, payout ${money(order.providerPayout)})
      ${order.refunded.cents !== '0' && html` · refunded <span data-test="refunded">${money(order.refunded)}</span>`}
      ${order.slaDeadline && ["CLAIMED", "IN_PROGRESS"].includes(order.status) && html` · due ${date(order.slaDeadline)}`} ${order.isLate && html`<strong class="late">late</strong>`}</p>
    <${Actions} order=${order} stripeKey=${state.data.stripePublishableKey} reload=${state.reload} />
    <h2>Timeline</h2>
    <ol class="timeline" data-test="timeline">
      ${events.map((e) => html`<li key=${e.id}>${date(e.occurredAt)} — <strong>${e.toStatus}</strong>
        <span class="muted"> ${e.action} by ${e.actorKind.toLowerCase()}</span>${e.note && html` · ${e.note}`}</li>`)}
    </ol>
    ${order.delivery && html`<${DeliveryView} delivery=${order.delivery} />`}
    ${order.review && html`<section data-test="review"><h2>Review</h2>
      <p><strong>${'★'.repeat(order.review.rating)}</strong> ${order.review.comment}</p></section>`}
    ${order.dispute && html`<section data-test="dispute"><h2>Dispute</h2>
      <p><strong data-test="dispute-status">${order.dispute.status}</strong> · ${order.dispute.reason} · ${order.dispute.description}</p>
      ${order.dispute.refundAmount && html`<p>Refund: ${money(order.dispute.refundAmount)}</p>`}
      ${order.dispute.adminNotes && html`<p class="muted">${order.dispute.adminNotes}</p>`}</section>`}
    <${Messages} order=${order} viewer=${viewer} reload=${state.reload} />` : html`<p>No such order.</p>`}<//>`;
}

function DeliveryView({ delivery: d }) {
  return html`<section data-test="delivery"><h2>Delivery (revision ${d.revision})</h2>
    <p>${d.summary}</p>
    ${d.score != null && html`<p>Score: ${d.score}/100</p>`}
    ${d.strengths && html`<p><strong>Strengths:</strong> ${d.strengths}</p>`}
    ${d.weaknesses && html`<p><strong>Weaknesses:</strong> ${d.weaknesses}</p>`}
    ${d.recommendations && html`<p><strong>Recommendations:</strong> ${d.recommendations}</p>`}
    ${d.file && html`<p><a href=${d.file.downloadUrl} download=${d.file.fileName} data-test="download">
      Download ${d.file.fileName}</a> <span class="muted">(${d.file.byteSize} bytes)</span></p>`}
  </section>`;
}

function Actions({ order, stripeKey, reload }) {
  const action = useAction();
  const [open, setOpen] = useState(null);
  const run = (fn) => action.run(async () => {
    await fn();
    setOpen(null);
    reload();
  });
  const input = { orderId: order.id };
  const buttons = order.availableActions.filter((a) => MUTATIONS[a]).map((a) => {
    const [name, label] = MUTATIONS[a];
    return html`<button key=${a} disabled=${action.busy} data-test=${`action-${a}`}
      onClick=${() => run(() => mutate(simple(name), { input }, name))}>${label}</button>`;
  });
  const forms = {
    MARK_PAID: ['I have paid', html`<${MarkPaid} order=${order} run=${run} />`],
    DELIVER: ['Deliver', html`<${Deliver} order=${order} run=${run} />`],
    REQUEST_REVISION: ['Ask for a revision', html`<${Revision} order=${order} run=${run} />`],
    CANCEL: ['Cancel', html`<${Cancel} order=${order} run=${run} />`],
    OPEN_DISPUTE: ['Open a dispute', html`<${OpenDispute} order=${order} run=${run} />`],
    REVIEW: ['Review', html`<${Review} order=${order} run=${run} />`],
  };
  const toggles = order.availableActions.filter((a) => forms[a]).map((a) => html`
    <button key=${a} class="secondary" data-test=${`action-${a}`} onClick=${() => setOpen(open === a ? null : a)}>${forms[a][0]}</button>`);
  const notes = [];
  if (order.availableActions.includes('PAY')) {
    notes.push(stripeKey && order.paymentClientSecret
      ? html`<${StripePayment} key="pay" stripeKey=${stripeKey} clientSecret=${order.paymentClientSecret} reload=${reload} />`
      : html`<p class="muted">The card payment is not ready yet: reload in a moment.</p>`);
  }
  if (order.availableActions.includes('RESOLVE_DISPUTE')) notes.push(html`<p><a href=${link('/admin')}>Resolve this dispute</a></p>`);
  return html`<div class="actions" data-test="actions">${buttons}${toggles}${notes}
    ${open && forms[open] && order.availableActions.includes(open) && html`<div class="panel">${forms[open][1]}</div>`}
    ${action.error && html`<p class="problem" role="alert">${action.error}</p>`}</div>`;
}

// Stripe.js, loaded from Stripe (the only script from elsewhere the page's policy admits) the
// first time a card is to be paid; never with simulated payments.
let stripeJs = null;
function loadStripe() {
  if (!stripeJs) {
    stripeJs = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = 'https://js.stripe.com/v3/';
      script.onload = () => resolve(window.Stripe);
      script.onerror = () => reject(new Error('Stripe.js could not be loaded'));
      document.head.appendChild(script);
    });
  }
  return stripeJs;
}

// Stripe's Payment Element for the order's PaymentIntent; the order moves to PAYMENT_HELD
// when Stripe's webhook reaches the API, and this page hears it on its subscription.
function StripePayment({ stripeKey, clientSecret, reload }) {
  const [ready, setReady] = useState(null);
  const action = useAction();
  useEffect(() => {
    let cancelled = false;
    loadStripe().then((Stripe) => {
      if (cancelled) return;
      const stripe = Stripe(stripeKey);
      const elements = stripe.elements({ clientSecret });
      elements.create('payment').mount('#payment-element');
      setReady({ stripe, elements });
    }).catch((err) => setReady({ error: err.message }));
    return () => { cancelled = true; };
  }, [stripeKey, clientSecret]);
  const pay = (event) => {
    event.preventDefault();
    action.run(async () => {
      const { error } = await ready.stripe.confirmPayment({ elements: ready.elements, redirect: 'if_required' });
      if (error) throw new Error(error.message);
      reload();
    });
  };
  return html`<form class="panel" onSubmit=${pay} data-test="stripe-payment">
    <div id="payment-element"></div>
    ${ready && ready.error && html`<p class="problem" role="alert">${ready.error}</p>`}
    <button disabled=${!ready || ready.error || action.busy}>Pay</button>
    ${action.error && html`<p class="problem" role="alert">${action.error}</p>`}
  </form>`;
}

function MarkPaid({ order, run }) {
  const submit = (event) => {
    const v = formValues(event);
    run(() => mutate('mutation($input: MarkOrderPaidInput!) { markOrderPaid(input: $input) { userErrors { message code } } }',
      { input: { orderId: order.id, method: v.method, reference: v.reference } }, 'markOrderPaid'));
  };
  return html`<form onSubmit=${submit} data-test="mark-paid-form">
    <p>Pay ${money(order.price)} to the provider, then tell them how you paid.</p>
    ${order.provider.tenant.paymentInstructions && html`<blockquote data-test="payment-instructions">${order.provider.tenant.paymentInstructions}</blockquote>`}
    <label>Method <input name="method" required maxlength="50" value="bank transfer" /></label>
    <label>Reference <input name="reference" required maxlength="100" /></label>
    <button>I have paid</button></form>`;
}

const CREATE_UPLOAD = `mutation($input: CreateUploadInput!) {
  createUpload(input: $input) { upload { key url method headers { name value } } userErrors { message code } }
}`;

function Deliver({ order, run }) {
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const file = form.get('file');
    run(async () => {
      const input = { orderId: order.id, summary: form.get('summary') };
      for (const key of ['strengths', 'weaknesses', 'recommendations']) input[key] = form.get(key);
      if (form.get('score')) input.score = Number(form.get('score'));
      if (file && file.size > 0) {
        const { upload } = await mutate(CREATE_UPLOAD, { input: {
          orderId: order.id, purpose: 'DELIVERY_REPORT', fileName: file.name,
          contentType: file.type || 'application/octet-stream', byteSize: String(file.size) } }, 'createUpload');
        const headers = Object.fromEntries(upload.headers.map((h) => [h.name, h.value]));
        const put = await fetch(upload.url, { method: upload.method, headers, body: file });
        // Read to the end: a response left unread counts as an aborted request.
        const answer = await put.text();
        if (!put.ok) throw new Error(`the upload was refused (${put.status}): ${answer}`);
        input.fileKey = upload.key;
      }
      await mutate('mutation($input: DeliverOrderInput!) { deliverOrder(input: $input) { userErrors { message code } } }',
        { input }, 'deliverOrder');
    });
  };
  return html`<form onSubmit=${submit} data-test="deliver-form">
    <label>Summary <textarea name="summary" required maxlength="10000"></textarea></label>
    <label>Strengths <textarea name="strengths" maxlength="10000"></textarea></label>
    <label>Weaknesses <textarea name="weaknesses" maxlength="10000"></textarea></label>
    <label>Recommendations <textarea name="recommendations" maxlength="10000"></textarea></label>
    <label>Score (0–100) <input name="score" type="number" min="0" max="100" /></label>
    <label>Report file <input name="file" type="file" /></label>
    <button data-test="deliver-submit">Deliver</button></form>`;
}

function Revision({ order, run }) {
  const submit = (event) => {
    const v = formValues(event);
    run(() => mutate('mutation($input: RequestRevisionInput!) { requestRevision(input: $input) { userErrors { message code } } }',
      { input: { orderId: order.id, message: v.message } }, 'requestRevision'));
  };
  return html`<form onSubmit=${submit}><label>What should change? <textarea name="message" required maxlength="5000"></textarea></label>
    <button>Ask for a revision</button></form>`;
}

function Cancel({ order, run }) {
  const submit = (event) => {
    const v = formValues(event);
    run(() => mutate('mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { userErrors { message code } } }',
      { input: { orderId: order.id, reason: v.reason } }, 'cancelOrder'));
  };
  return html`<form onSubmit=${submit}><label>Reason <input name="reason" required maxlength="500" /></label>
    <button>Cancel the order</button></form>`;
}

function OpenDispute({ order, run }) {
  const submit = (event) => {
    const v = formValues(event);
    run(() => mutate('mutation($input: OpenDisputeInput!) { openDispute(input: $input) { userErrors { message code } } }',
      { input: { orderId: order.id, reason: v.reason, description: v.description } }, 'openDispute'));
  };
  return html`<form onSubmit=${submit} data-test="dispute-form">
    <label>Reason <select name="reason"><option value="QUALITY">Quality</option>
      <option value="NON_DELIVERY">Not delivered</option><option value="OTHER">Other</option></select></label>
    <label>What went wrong? <textarea name="description" required maxlength="5000"></textarea></label>
    <button data-test="dispute-submit">Open the dispute</button></form>`;
}

function Review({ order, run }) {
  const submit = (event) => {
    const v = formValues(event);
    run(() => mutate('mutation($input: CreateReviewInput!) { createReview(input: $input) { userErrors { message code } } }',
      { input: { orderId: order.id, rating: Number(v.rating), comment: v.comment } }, 'createReview'));
  };
  return html`<form onSubmit=${submit} data-test="review-form">
    <label>Rating <select name="rating">${[5, 4, 3, 2, 1].map((n) => html`<option value=${n}>${n}</option>`)}</select></label>
    <label>Comment <textarea name="comment" maxlength="5000"></textarea></label>
    <button data-test="review-submit">Post the review</button></form>`;
}

function Messages({ order, viewer, reload }) {
  const action = useAction();
  const thread = order.thread;
  const send = (event) => {
    const form = event.currentTarget;
    const v = formValues(event);
    action.run(async () => {
      if (thread) {
        await mutate('mutation($input: SendMessageInput!) { sendMessage(input: $input) { userErrors { message code } } }',
          { input: { threadId: thread.id, body: v.body } }, 'sendMessage');
      } else {
        await mutate('mutation($input: StartThreadInput!) { startThread(input: $input) { userErrors { message code } } }',
          { input: { providerId: order.provider.id, orderId: order.id, body: v.body } }, 'startThread');
      }
      form.reset();
      reload();
    });
  };
  const canStart = thread || viewer.id === order.buyer.id;
  return html`<section data-test="messages"><h2>Messages</h2>
    ${thread ? html`<ul class="plain">${thread.messages.nodes.map((m) => html`
      <li key=${m.id}><strong>${m.sender.displayName}:</strong> ${m.body} <span class="muted">${date(m.createdAt)}</span></li>`)}</ul>`
      : html`<p class="muted">No message yet.</p>`}
    ${canStart && html`<form onSubmit=${send}><label>Message <textarea name="body" required maxlength="5000"></textarea></label>
      <button disabled=${action.busy}>Send</button>
      ${action.error && html`<p class="problem" role="alert">${action.error}</p>`}</form>`}
  </section>`;
}
