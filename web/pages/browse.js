// Browse: listings with category, price and text filters, sort and cursor pages.
import { useState } from '../vendor/hooks.mjs';
import { money, toCents } from '../api.js';
import { formValues, html, link, Loading, stars, turnaround, useQuery } from '../ui.js';

// The page's one query.
const BROWSE = `query Browse($first: Int!, $after: String, $filter: ListingFilter, $sortKey: ListingSortKey, $reverse: Boolean) {
  categories { category activeListings }
  listings(first: $first, after: $after, filter: $filter, sortKey: $sortKey, reverse: $reverse) {
    nodes { id title category turnaroundDays price { cents currencyCode }
            provider { id displayName avgRating } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const PAGE = 12;

export function Browse() {
  const [filter, setFilter] = useState({});
  const [sort, setSort] = useState('NEWEST');
  // The cursors of the pages before this one, to go back.
  const [cursors, setCursors] = useState([]);
  const after = cursors.length ? cursors[cursors.length - 1] : null;
  const [sortKey, reverse] = sort === 'PRICE_DESC' ? ['PRICE', true] : [sort, false];
  const state = useQuery(BROWSE, { first: PAGE, after, filter, sortKey, reverse });

  const apply = (event) => {
    const values = formValues(event);
    const next = {};
    if (values.query.trim()) next.query = values.query.trim();
    if (values.category) next.category = values.category;
    const min = toCents(values.min);
    const max = toCents(values.max);
    if (min) next.minPriceCents = min;
    if (max) next.maxPriceCents = max;
    setFilter(next);
    setSort(values.sort);
    setCursors([]);
  };

  return html`
    <h1>Find coverage</h1>
    <${Loading} state=${state}>${(data) => html`
      <form class="filters" onSubmit=${apply} data-test="filters">
        <input name="query" placeholder="Search" maxlength="200" value=${filter.query || ''} />
        <select name="category">
          <option value="">Every category</option>
          ${data.categories.map((c) => html`<option value=${c.category} selected=${filter.category === c.category}>
            ${c.category.replace(/_/g, ' ')} (${c.activeListings})</option>`)}
        </select>
        <input name="min" placeholder="Min $" size="6" inputmode="decimal" />
        <input name="max" placeholder="Max $" size="6" inputmode="decimal" />
        <select name="sort">
          <option value="NEWEST" selected=${sort === 'NEWEST'}>Newest</option>
          <option value="PRICE" selected=${sort === 'PRICE'}>Price, low first</option>
          <option value="PRICE_DESC" selected=${sort === 'PRICE_DESC'}>Price, high first</option>
          <option value="RATING" selected=${sort === 'RATING'}>Rating</option>
          <option value="TURNAROUND" selected=${sort === 'TURNAROUND'}>Turnaround</option>
        </select>
        <button>Apply</button>
      </form>
      ${data.listings.nodes.length === 0 && html`<p class="muted">No listing matches.</p>`}
      <ul class="cards" data-test="listings">
        ${data.listings.nodes.map((l) => html`
          <li class="card" key=${l.id}>
            <a href=${link(`/listings/${l.id}`)} class="title" data-test="listing">${l.title}</a>
            <div>${money(l.price)} · ${turnaround(l.turnaroundDays)}</div>
            <div class="muted" data-test="category">${l.category.replace(/_/g, ' ')}</div>
            <a href=${link(`/providers/${l.provider.id}`)} data-test="provider">${l.provider.displayName}</a>
            <span class="muted"> ${stars(l.provider.avgRating)}</span>
          </li>`)}
      </ul>
      <div class="pager">
        <button disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <button disabled=${!data.listings.pageInfo.hasNextPage}
          onClick=${() => setCursors([...cursors, data.listings.pageInfo.endCursor])} data-test="next-page">Next</button>
      </div>`}
    <//>`;
}
