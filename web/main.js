// The reference web client: a hash router over the pages, each loaded by one GraphQL query
// (named in a comment beside it). It speaks only the public API (./api.js).
import { render } from './vendor/preact.mjs';
import { useEffect, useState } from './vendor/hooks.mjs';
import { gql, onSessionChange, restore, signOut } from './api.js';
import { html, link } from './ui.js';
import { Browse } from './pages/browse.js';
import { ProviderPage } from './pages/provider.js';
import { ListingPage } from './pages/listing.js';
import { OrderPage } from './pages/order.js';
import { Dashboard } from './pages/dashboard.js';
import { Admin } from './pages/admin.js';
import { Books } from './pages/books.js';
import { SignIn } from './pages/signin.js';
import { Orders } from './pages/orders.js';

// The navigation's own query: who is signed in and what they may open.
const VIEWER = 'query Viewer { viewer { id displayName roles provider { id } tenants { id } } }';

function route() {
  const [path] = (location.hash.slice(1) || '/').split('?');
  const parts = path.split('/').filter(Boolean);
  return { name: parts[0] || 'browse', id: parts[1] || null };
}

function App() {
  const [where, setWhere] = useState(route());
  const [viewer, setViewer] = useState(undefined);
  const [session, setSession] = useState(0);

  useEffect(() => {
    const onHash = () => setWhere(route());
    window.addEventListener('hashchange', onHash);
    const off = onSessionChange(() => setSession((n) => n + 1));
    restore().then(() => setSession((n) => n + 1));
    return () => {
      window.removeEventListener('hashchange', onHash);
      off();
    };
  }, []);
  useEffect(() => {
    gql(VIEWER).then((d) => setViewer(d.viewer)).catch(() => setViewer(null));
  }, [session]);

  if (viewer === undefined) return html`<p class="muted">Loading…</p>`;
  const isAdmin = Boolean(viewer && viewer.roles.includes('ADMIN'));
  const page = (() => {
    switch (where.name) {
      case 'providers': return html`<${ProviderPage} id=${where.id} viewer=${viewer} />`;
      case 'listings': return html`<${ListingPage} id=${where.id} viewer=${viewer} />`;
      case 'orders': return where.id
        ? html`<${OrderPage} id=${where.id} viewer=${viewer} />`
        : html`<${Orders} viewer=${viewer} />`;
      case 'dashboard': return html`<${Dashboard} viewer=${viewer} />`;
      case 'admin': return html`<${Admin} viewer=${viewer} />`;
      case 'books': return html`<${Books} viewer=${viewer} />`;
      case 'signin': return html`<${SignIn} />`;
      default: return html`<${Browse} />`;
    }
  })();
  return html`
    <header>
      <a class="brand" href=${link('/')}>Coverage Marketplace</a>
      <nav>
        <a href=${link('/')}>Browse</a>
        ${viewer && html`<a href=${link('/orders')}>My orders</a>`}
        ${viewer && viewer.provider && html`<a href=${link('/dashboard')} data-test="nav-dashboard">Dashboard</a>`}
        ${viewer && viewer.tenants.length > 0 && html`<a href=${link('/books')}>Invoice book</a>`}
        ${isAdmin && html`<a href=${link('/admin')} data-test="nav-admin">Admin</a>`}
        ${viewer
          ? html`<span class="who" data-test="who">${viewer.displayName}</span>
                 <button class="link" onClick=${() => signOut().then(() => { location.hash = '#/'; })}>Sign out</button>`
          : html`<a href=${link('/signin')} data-test="nav-signin">Sign in</a>`}
      </nav>
    </header>
    <main>${page}</main>`;
}

render(html`<${App} />`, document.getElementById('app'));
