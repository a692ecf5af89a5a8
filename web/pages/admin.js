// Admin: providers waiting for verification, and open disputes to review and resolve with a
// full, partial or no refund.
import { useState } from '../vendor/hooks.mjs';
import { money, mutate, toCents } from '../api.js';
import { formValues, html, link, Loading, useAction, useQuery } from '../ui.js';

// The page's one query.
const ADMIN = `query Admin {
  providers(first: 50, filter: { status: PENDING_VERIFICATION }) { nodes { id displayName city state user { email } } }
  disputes(first: 50, status: [OPEN, UNDER_REVIEW]) {
    nodes { id status reason description createdAt
            order { id number price { cents currencyCode } buyer { displayName } provider { displayName } } }
  }
}`;

export function Admin({ viewer }) {
  if (!viewer || !viewer.roles.includes('ADMIN')) return html`<p>Admins only.</p>`;
  const state = useQuery(ADMIN, {});
  const action = useAction();
  const verify = (id) => action.run(async () => {
    await mutate('mutation($input: SetProviderStatusInput!) { setProviderStatus(input: $input) { userErrors { message code } } }',
      { input: { providerId: id, status: 'ACTIVE', reason: 'verified by an admin' } }, 'setProviderStatus');
    state.reload();
  });
  return html`<h1>Admin</h1>
    ${action.error && html`<p class="problem" role="alert">${action.error}</p>`}
    <${Loading} state=${state}>${(data) => html`
      <section data-test="pending-providers"><h2>Providers to verify (${data.providers.nodes.length})</h2>
        <ul class="plain">${data.providers.nodes.map((p) => html`<li key=${p.id}>
          ${p.displayName} <span class="muted">${p.user.email} · ${[p.city, p.state].filter(Boolean).join(', ')}</span>
          <button disabled=${action.busy} onClick=${() => verify(p.id)}>Verify</button></li>`)}</ul>
      </section>
      <section data-test="open-disputes"><h2>Open disputes (${data.disputes.nodes.length})</h2>
        ${data.disputes.nodes.map((d) => html`<${DisputeCard} key=${d.id} dispute=${d} reload=${state.reload} />`)}
      </section>`}<//>`;
}

function DisputeCard({ dispute: d, reload }) {
  const action = useAction();
  const [outcome, setOutcome] = useState('PARTIAL');
  const review = () => action.run(async () => {
    await mutate('mutation($input: DisputeIdInput!) { reviewDispute(input: $input) { userErrors { message code } } }',
      { input: { disputeId: d.id } }, 'reviewDispute');
    reload();
  });
  const resolve = (event) => {
    const v = formValues(event);
    action.run(async () => {
      const input = { disputeId: d.id, outcome, adminNotes: v.notes };
      if (outcome === 'PARTIAL') {
        const cents = toCents(v.refund);
        if (!cents) throw new Error('enter the refund in dollars, e.g. 12.50');
        input.refundCents = cents;
      }
      await mutate('mutation($input: ResolveDisputeInput!) { resolveDispute(input: $input) { userErrors { message code } } }',
        { input }, 'resolveDispute');
      reload();
    });
  };
  return html`<div class="card wide" data-test="dispute-card">
    <p><a href=${link(`/orders/${d.order.id}`)}>Order ${d.order.number}</a> · ${money(d.order.price)} ·
      ${d.order.buyer.displayName} vs ${d.order.provider.displayName} · <strong>${d.status}</strong></p>
    <p>${d.reason}: ${d.description}</p>
    ${d.status === 'OPEN' && html`<button disabled=${action.busy} onClick=${review}>Take under review</button>`}
    <form onSubmit=${resolve} data-test="resolve-form">
      <select name="outcome" value=${outcome} onChange=${(e) => setOutcome(e.currentTarget.value)}>
        <option value="REFUND">Full refund</option><option value="PARTIAL">Partial refund</option>
        <option value="NO_REFUND">No refund</option></select>
      ${outcome === 'PARTIAL' && html`<input name="refund" placeholder="Refund $" size="8" inputmode="decimal" required />`}
      <input name="notes" placeholder="Notes for both parties" required maxlength="2000" />
      <button disabled=${action.busy} data-test="resolve-submit">Resolve</button>
    </form>
    ${action.error && html`<p class="problem" role="alert">${action.error}</p>`}
  </div>`;
}
