// A provider's profile: listings, rating and reviews.
import { money } from '../api.js';
import { date, html, link, Loading, stars, turnaround, useQuery } from '../ui.js';

// The page's one query.
const PROVIDER = `query ProviderPage($id: ID!) {
  provider(id: $id) {
    id displayName bio specialties city state avgRating reviewCount totalOrdersCompleted
    startingPrice { cents currencyCode }
    listings(first: 20) { nodes { id title category turnaroundDays price { cents currencyCode } } }
    reviews(first: 20) { nodes { id rating comment providerReply createdAt author { displayName } } }
  }
}`;

export function ProviderPage({ id }) {
  const state = useQuery(PROVIDER, { id });
  return html`<${Loading} state=${state}>${({ provider: p }) => p ? html`
    <h1 data-test="provider-name">${p.displayName}</h1>
    <p>${p.bio}</p>
    <p class="muted">${[p.city, p.state].filter(Boolean).join(', ')} · ${p.specialties.join(', ')}</p>
    <p data-test="rating">${stars(p.avgRating)} (${p.reviewCount} reviews) · ${p.totalOrdersCompleted} orders completed · from ${money(p.startingPrice)}</p>
    <h2>Services</h2>
    <ul class="cards">
      ${p.listings.nodes.map((l) => html`
        <li class="card" key=${l.id}>
          <a class="title" href=${link(`/listings/${l.id}`)} data-test="listing">${l.title}</a>
          <div>${money(l.price)} · ${turnaround(l.turnaroundDays)}</div>
        </li>`)}
    </ul>
    <h2>Reviews</h2>
    ${p.reviews.nodes.length === 0 && html`<p class="muted">No review yet.</p>`}
    <ul class="plain" data-test="reviews">
      ${p.reviews.nodes.map((r) => html`
        <li key=${r.id} data-test="review">
          <strong>${'★'.repeat(r.rating)}</strong> ${r.comment}
          <span class="muted"> — ${r.author.displayName}, ${date(r.createdAt)}</span>
          ${r.providerReply && html`<div class="reply">${r.providerReply}</div>`}
        </li>`)}
    </ul>` : html`<p>No such provider.</p>`}<//>`;
}
