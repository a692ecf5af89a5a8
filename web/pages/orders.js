// The viewer's orders as buyer.
import { money } from '../api.js';
import { date, html, link, Loading, useQuery } from '../ui.js';

// The page's one query.
const ORDERS = `query MyOrders {
  orders(first: 50, filter: { role: BUYER }) {
    nodes { id number status createdAt price { cents currencyCode } listing { title } provider { displayName } }
  }
}`;

export function Orders({ viewer }) {
  if (!viewer) return html`<p><a href=${link('/signin')}>Sign in</a> to see your orders.</p>`;
  const state = useQuery(ORDERS, {});
  return html`
    <h1>My orders</h1>
    <${Loading} state=${state}>${(data) => html`
      ${data.orders.nodes.length === 0 && html`<p class="muted">No order yet.</p>`}
      <table>
        <thead><tr><th>Order</th><th>Service</th><th>Provider</th><th>Price</th><th>Status</th><th>Placed</th></tr></thead>
        <tbody>${data.orders.nodes.map((o) => html`
          <tr key=${o.id}>
            <td><a href=${link(`/orders/${o.id}`)}>${o.number}</a></td><td>${o.listing.title}</td>
            <td>${o.provider.displayName}</td><td>${money(o.price)}</td><td>${o.status}</td><td>${date(o.createdAt)}</td>
          </tr>`)}</tbody>
      </table>`}<//>`;
}
