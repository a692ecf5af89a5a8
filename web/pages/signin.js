// Sign in or register: `login` / `register` mutations; no page query.
import { useState } from '../vendor/hooks.mjs';
import { signIn } from '../api.js';
import { formValues, html, useAction } from '../ui.js';

export function SignIn() {
  const [mode, setMode] = useState('login');
  const action = useAction();
  const submit = (event) => {
    const values = formValues(event);
    const input = mode === 'register'
      ? { email: values.email, password: values.password, displayName: values.displayName }
      : { email: values.email, password: values.password };
    action.run(async () => {
      await signIn(mode, input);
      location.hash = '#/';
    });
  };
  return html`
    <section class="narrow">
      <h1>${mode === 'login' ? 'Sign in' : 'Create an account'}</h1>
      <form onSubmit=${submit} data-test="signin-form">
        <label>Email <input name="email" type="email" required maxlength="254" /></label>
        ${mode === 'register' && html`<label>Name <input name="displayName" required maxlength="100" /></label>`}
        <label>Password <input name="password" type="password" required minlength="8" maxlength="128" /></label>
        <button disabled=${action.busy}>${mode === 'login' ? 'Sign in' : 'Register'}</button>
        ${action.error && html`<p class="problem" role="alert">${action.error}</p>`}
      </form>
      <p>
        <button class="link" onClick=${() => setMode(mode === 'login' ? 'register' : 'login')}>
          ${mode === 'login' ? 'No account yet? Register' : 'Have an account? Sign in'}
        </button>
      </p>
    </section>`;
}
