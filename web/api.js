// The app's only way to the server: the public GraphQL API, exactly as a third-party SPA uses
// it. Queries and mutations go over fetch; subscriptions over graphql-ws on the same /graphql.
//
// Tokens: the access token lives in memory only (gone with the tab, never readable from
// storage). The refresh token is kept in sessionStorage so a reload keeps the session: it
// lives as long as the tab, is not sent with every request as a cookie would be, and the
// API rotates it on every refresh. The page's Content-Security-Policy allows no inline or
// foreign script, which is what protects storage from injected code.
import { createClient } from './vendor/graphql-ws.js';

const REFRESH_KEY = 'marketplace.refreshToken';
let access = null; // { token, expiresAt }
let wsClient = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** Called with the new signed-in state (true/false) whenever it changes. */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setSession(payload) {
  if (payload && payload.accessToken) {
    access = { token: payload.accessToken, expiresAt: Date.parse(payload.expiresAt) };
    sessionStorage.setItem(REFRESH_KEY, payload.refreshToken);
  } else {
    access = null;
    sessionStorage.removeItem(REFRESH_KEY);
  }
  if (wsClient) {
    wsClient.dispose();
    wsClient = null;
  }
  listeners.forEach((fn) => fn(Boolean(access)));
}

async function post(query, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json().catch(() => null);
  if (!body) throw new ApiError(`the server answered ${response.status}`, 'NETWORK');
  return body;
}

const AUTH_FIELDS = 'accessToken refreshToken expiresAt userErrors { message code field }';
const REFRESH = `mutation Refresh($input: RefreshSessionInput!) { refreshSession(input: $input) { ${AUTH_FIELDS} } }`;

/** A valid access token, refreshed first when it is about to expire; null when signed out. */
async function token() {
  if (access && access.expiresAt - Date.now() > 10_000) return access.token;
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return null;
  const body = await post(REFRESH, { input: { refreshToken } });
  const payload = body.data && body.data.refreshSession;
  if (!payload || !payload.accessToken) {
    setSession(null);
    return null;
  }
  setSession(payload);
  return access.token;
}

/** Runs one operation; resolves to its data, rejects with the first error. */
export async function gql(query, variables = {}) {
  const body = await post(query, variables, await token());
  if (body.errors && body.errors.length) {
    const [first] = body.errors;
    throw new ApiError(first.message, first.extensions && first.extensions.code);
  }
  return body.data;
}

/** Runs a mutation and returns its payload; rejects with the payload's userErrors. */
export async function mutate(query, variables, field) {
  const data = await gql(query, variables);
  const payload = data[field];
  if (payload.userErrors && payload.userErrors.length) {
    throw new ApiError(payload.userErrors.map((e) => e.message).join('; '), payload.userErrors[0].code);
  }
  return payload;
}

export async function signIn(kind, input) {
  const mutation = kind === 'register'
    ? `mutation Register($input: RegisterInput!) { register(input: $input) { ${AUTH_FIELDS} } }`
    : `mutation Login($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;
  const payload = await mutate(mutation, { input }, kind);
  setSession(payload);
}

export async function signOut() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  if (refreshToken) {
    await post('mutation Logout($input: LogoutInput!) { logout(input: $input) { userErrors { message } } }',
      { input: { refreshToken } }, access && access.token).catch(() => null);
  }
  setSession(null);
}

/** Whether a session exists or can be restored from the refresh token. */
export async function restore() {
  return Boolean(await token().catch(() => null));
}

/** The websocket client, made on first use for the current session. */
export function subscriptions() {
  if (!wsClient) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    wsClient = createClient({
      url: `${scheme}//${location.host}/graphql`,
      // Asked again on every (re)connection, so a refreshed token is used.
      connectionParams: async () => {
        const current = await token();
        return current ? { authorization: `Bearer ${current}` } : {};
      },
      retryAttempts: Infinity,
      shouldRetry: () => true,
    });
  }
  return wsClient;
}

/** Cents (a BigInt string) as dollars, without floats. */
export function money(m) {
  if (!m) return 'price on request';
  const cents = BigInt(m.cents);
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}$${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** A dollar amount typed by a user ("12", "12.5", "12.50") as cents, or null. */
export function toCents(text) {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text || '');
  if (!match) return null;
  return String(BigInt(match[1]) * 100n + BigInt((match[2] || '0').padEnd(2, '0')));
}
