// A listing and its order form: `placeOrder`, then the order's page.
import { money, mutate } from '../api.js';
import { formValues, html, link, Loading, stars, turnaround, useAction, useQuery } from '../ui.js';

// The page's one query.
const LISTING = `query ListingPage($id: ID!) {
  listing(id: $id) {
    id title description category tier turnaroundDays maxPages revisionsIncluded status
    price { cents currencyCode }
    provider { id displayName avgRating reviewCount }
  }
}`;

const PLACE = `mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id } userErrors { message code field } }
}`;

export function ListingPage({ id, viewer }) {
  const state = useQuery(LISTING, { id });
  const action = useAction();
  const place = (event) => {
    const values = formValues(event);
    action.run(async () => {
      const input = { listingId: id, idempotencyKey: crypto.randomUUID() };
      if (values.notes.trim()) input.notes = values.notes.trim();
      const payload = await mutate(PLACE, { input }, 'placeOrder');
      location.hash = `#/orders/${payload.order.id}`;
    });
  };
  return html`<${Loading} state=${state}>${({ listing: l }) => l ? html`
    <h1 data-test="listing-title">${l.title}</h1>
    <p>by <a href=${link(`/providers/${l.provider.id}`)}>${l.provider.displayName}</a>
      <span class="muted"> ${stars(l.provider.avgRating)}</span></p>
    <p class="price" data-test="price">${money(l.price)}</p>
    <p>${l.description}</p>
    <p class="muted">${l.category.replace(/_/g, ' ')}${l.tier ? ` · ${l.tier}` : ''}
 · ${turnaround(l.turnaroundDays)}${l.maxPages ? ` · up to ${l.maxPages} pages` : ''}
      · ${l.revisionsIncluded} revision(s) included</p>
    ${viewer
      ? html`<form onSubmit=${place} data-test="place-form">
          <label>Notes for the provider <textarea name="notes" maxlength="2000"></textarea></label>
          <button disabled=${action.busy} data-test="place-order">Order for ${money(l.price)}</button>
          ${action.error && html`<p class="problem" role="alert">${action.error}</p>`}
        </form>`
      : html`<p><a href=${link('/signin')}>Sign in</a> to order.</p>`}` : html`<p>No such listing.</p>`}<//>`;
}
