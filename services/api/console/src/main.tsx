import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { get, HttpError, post, request, whenSignedOut, type Scope } from './api.js';
import { ConfirmButton, ErrorNote, Link, navigate } from './ui.js';
import { Overview } from './overview.js';
import { PresetPage } from './preset.js';

type Session = { state: 'checking' } | { state: 'signed-out'; reason?: string } | { state: 'signed-in'; scope: Scope } | { state: 'failed'; error: HttpError };

function Login(props: { reason?: string | undefined; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await request('POST', '/console/session', { token });
      props.onSignedIn();
    } catch (err) {
      setError(err instanceof HttpError && err.status === 401 ? 'Unknown or expired token.' : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={(e) => void submit(e)} aria-describedby="login-help">
        <h1>Warmpool pools</h1>
        {props.reason && (
          <p class="note note-warn" role="status">
            {props.reason}
          </p>
        )}
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <p id="login-help" class="hint">
          Paste an API token (<code>npx warmpool token create</code>). The console keeps it in an HttpOnly cookie for 8 hours.
        </p>
        {error && (
          <p class="note note-bad" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function SitePause(props: { scope: Scope; onChange: () => void }) {
  const { paused, actions } = props.scope.site;
  if (!actions.includes('reconciliation.pause')) return paused ? <span class="badge badge-muted">reconciliation paused</span> : null;
  return (
    <div class="site-pause">
      <span class={`badge ${paused ? 'badge-muted' : 'badge-ok'}`}>{paused ? 'reconciliation paused' : 'reconciling'}</span>
      <ConfirmButton
        label={paused ? 'Resume reconciliation' : 'Pause reconciliation'}
        title={paused ? 'Resume reconciliation site-wide?' : 'Pause reconciliation site-wide?'}
        body={paused ? 'Every pool is reconciled again: missing prebuilds are built, surplus ones deleted.' : 'No pool in any organization is built or cleaned up until you resume. Claims keep working.'}
        confirmLabel={paused ? 'Resume' : 'Pause'}
        danger={!paused}
        action={async () => {
          await post(paused ? '/prebuilds/resume' : '/prebuilds/pause');
          props.onChange();
        }}
      />
    </div>
  );
}

function App() {
  const [path, setPath] = useState(location.pathname);
  const [session, setSession] = useState<Session>({ state: 'checking' });
  const loadScope = useCallback(() => {
    get<Scope>('/users/me/scope').then(
      (scope) => setSession({ state: 'signed-in', scope }),
      (error: HttpError) => setSession(error.status === 401 ? { state: 'signed-out' } : { state: 'failed', error }),
    );
  }, []);
  useEffect(() => {
    whenSignedOut(() => setSession({ state: 'signed-out', reason: 'Your session has expired or the token was revoked. Sign in again.' }));
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    loadScope();
    return () => removeEventListener('popstate', onPop);
  }, [loadScope]);
  useEffect(() => {
    document.title = session.state === 'signed-out' ? 'Sign in — Warmpool pools' : 'Warmpool pools';
  }, [session.state]);

  if (session.state === 'checking') return <p class="loading">Loading…</p>;
  if (session.state === 'failed') return <main class="page"><ErrorNote error={session.error} what="cannot load your scope" /></main>;
  if (session.state === 'signed-out') {
    return (
      <Login
        reason={session.reason}
        onSignedIn={() => {
          if (location.pathname === '/console/login') navigate('/console/');
          loadScope();
        }}
      />
    );
  }
  const { scope } = session;
  const presetId = /^\/console\/presets\/([0-9a-f-]{36})$/.exec(path)?.[1];
  const signOut = async () => {
    await request('DELETE', '/console/session');
    setSession({ state: 'signed-out', reason: 'Signed out.' });
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/console/" class="brand">
          Warmpool pools
        </Link>
        <SitePause scope={scope} onChange={loadScope} />
        <span class="who">
          {scope.username}
          <button type="button" class="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" class="page" tabIndex={-1}>
        {presetId ? <PresetPage id={presetId} scope={scope} /> : path === '/console/' || path === '/console/login' ? <Overview scope={scope} /> : <p class="note">No such page. <Link href="/console/">Back to the overview</Link></p>}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
