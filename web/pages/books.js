// A seller's invoice book: contacts and invoices of the viewer's tenants; record a payment.
import { money, mutate, toCents } from '../api.js';
import { formValues, html, Loading, useAction, useQuery } from '../ui.js';

// The page's one query.
const BOOKS = `query Books {
  viewer { tenants { id name
    contacts(first: 50) { nodes { id name email totalTransactions totalSpent { cents currencyCode } } }
    invoices(first: 50) { nodes { id number status total { cents currencyCode } balance { cents currencyCode }
                                  contact { name } issuedAt } }
  } }
}`;

export function Books({ viewer }) {
  if (!viewer || viewer.tenants.length === 0) return html`<p>The invoice book is for sellers.</p>`;
  const state = useQuery(BOOKS, {});
  return html`<h1>Invoice book</h1>
    <${Loading} state=${state}>${(data) => data.viewer.tenants.map((t) => html`
      <section key=${t.id} data-test="tenant"><h2>${t.name}</h2>
        <h3>Contacts</h3>
        <table><thead><tr><th>Name</th><th>Email</th><th>Transactions</th><th>Spent</th></tr></thead>
          <tbody>${t.contacts.nodes.map((c) => html`<tr key=${c.id}><td>${c.name}</td><td>${c.email || '—'}</td>
            <td>${c.totalTransactions}</td><td>${money(c.totalSpent)}</td></tr>`)}</tbody></table>
        <h3>Invoices</h3>
        <table data-test="invoices"><thead><tr><th>Number</th><th>Client</th><th>Status</th><th>Total</th><th>Balance</th><th></th></tr></thead>
          <tbody>${t.invoices.nodes.map((i) => html`<tr key=${i.id}><td>${i.number}</td><td>${i.contact ? i.contact.name : '—'}</td>
            <td>${i.status}</td><td>${money(i.total)}</td><td>${money(i.balance)}</td>
            <td>${i.balance.cents !== '0' && ['SENT', 'PENDING_CONFIRMATION'].includes(i.status)
              && html`<${RecordPayment} invoice=${i} reload=${state.reload} />`}</td></tr>`)}</tbody></table>
      </section>`)}<//>`;
}

function RecordPayment({ invoice, reload }) {
  const action = useAction();
  const submit = (event) => {
    const form = event.currentTarget;
    const v = formValues(event);
    action.run(async () => {
      const cents = toCents(v.amount);
      if (!cents) throw new Error('enter the amount in dollars, e.g. 12.50');
      await mutate('mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { userErrors { message code } } }',
        { input: { invoiceId: invoice.id, amountCents: cents, method: v.method, reference: v.reference || null } }, 'recordPayment');
      form.reset();
      reload();
    });
  };
  return html`<form class="inline" onSubmit=${submit} data-test="record-payment">
    <input name="amount" placeholder="$" size="7" required inputmode="decimal" />
    <input name="method" placeholder="method" size="8" required maxlength="50" value="bank" />
    <input name="reference" placeholder="reference" size="8" maxlength="100" />
    <button disabled=${action.busy}>Record payment</button>
    ${action.error && html`<span class="problem" role="alert">${action.error}</span>`}</form>`;
}
