// The provider's dashboard: incoming, active (with SLA and late), completed, earnings. The
// actions themselves (claim, start, deliver with a file) are on each order's page.
import { money } from '../api.js';
import { date, html, link, Loading, useQuery } from '../ui.js';

// The page's one query.
const DASHBOARD = `query Dashboard {
  viewer { provider { id displayName status
    earnings { paidOut { cents currencyCode } pending { cents currencyCode } platformFees { cents currencyCode }
               platformFeesOwed { cents currencyCode } refunded { cents currencyCode } completedOrders } } }
  orders(first: 100, filter: { role: PROVIDER }) {
    nodes { id number status isLate slaDeadline createdAt price { cents currencyCode }
            listing { title } buyer { displayName } }
  }
}`;

const GROUPS = [
  ['Incoming', ['PLACED', 'PAYMENT_HELD'], 'incoming'],
  ['Active', ['CLAIMED', 'IN_PROGRESS', 'DELIVERED', 'DISPUTED'], 'active'],
  ['Completed', ['COMPLETED', 'REFUNDED', 'CANCELLED', 'PAYMENT_FAILED'], 'completed'],
];

export function Dashboard({ viewer }) {
  if (!viewer || !viewer.provider) return html`<p>The dashboard is for providers.</p>`;
  const state = useQuery(DASHBOARD, {});
  return html`<${Loading} state=${state}>${(data) => {
    const p = data.viewer.provider;
    const e = p.earnings;
    return html`
      <h1>${p.displayName}</h1>
      ${e && html`<p data-test="earnings">Paid out ${money(e.paidOut)} · pending ${money(e.pending)} ·
        fees ${money(e.platformFees)} (owed ${money(e.platformFeesOwed)}) · refunded ${money(e.refunded)} ·
        ${e.completedOrders} completed</p>`}
      ${GROUPS.map(([title, statuses, test]) => {
        const orders = data.orders.nodes.filter((o) => statuses.includes(o.status));
        return html`<section key=${test} data-test=${test}><h2>${title} (${orders.length})</h2>
          <ul class="plain">${orders.map((o) => html`<li key=${o.id}>
            <a href=${link(`/orders/${o.id}`)} data-test="dashboard-order">${o.number}</a> ${o.listing.title} for ${o.buyer.displayName}
            · ${money(o.price)} · <strong>${o.status}</strong>
            ${o.slaDeadline && html` · due ${date(o.slaDeadline)}`} ${o.isLate && html`<strong class="late">late</strong>`}</li>`)}</ul>
        </section>`;
      })}`;
  }}<//>`;
}
