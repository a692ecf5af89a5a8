// Shared view helpers: htm bound to Preact, a loader hook for a page's one query, and small
// pieces every page uses.
import { h } from './vendor/preact.mjs';
import { useCallback, useEffect, useState } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';
import { gql } from './api.js';

export const html = htm.bind(h);

/** Loads `query` with `variables` (again when they change); `reload` runs it again. */
export function useQuery(query, variables) {
  const key = JSON.stringify(variables);
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const load = useCallback(() => {
    gql(query, JSON.parse(key))
      .then((data) => setState({ loading: false, data, error: null }))
      .catch((error) => setState((s) => ({ loading: false, data: s.data, error })));
  }, [query, key]);
  useEffect(() => {
    setState((s) => ({ ...s, loading: true }));
    load();
  }, [load]);
  return { ...state, reload: load };
}

/** Runs an action, showing its error beside the button that started it. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (err) {
      setError(err.message || String(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

export function Problem({ error }) {
  if (!error) return null;
  return html`<p class="problem" role="alert">${error.message || error}</p>`;
}

export function Loading({ state, children }) {
  if (state.error && !state.data) return html`<${Problem} error=${state.error} />`;
  if (!state.data) return html`<p class="muted">Loading…</p>`;
  return children(state.data);
}

export function link(path) {
  return `#${path}`;
}

export function date(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

/** A turnaround in days, or how it is agreed instead. */
export function turnaround(days) {
  if (!days) return 'turnaround on request';
  return days === 1 ? '1 day' : `${days} days`;
}

export function stars(rating) {
  return rating == null ? 'no rating yet' : `★ ${Number(rating).toFixed(1)}`;
}

/** The value of every named field of a submitted form. */
export function formValues(event) {
  event.preventDefault();
  return Object.fromEntries(new FormData(event.currentTarget).entries());
}
