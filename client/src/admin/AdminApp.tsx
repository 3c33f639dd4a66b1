/**
 * The admin page at `/admin`: sign-in with the admin token, then the live
 * relay health. It shares the build with the chat client but none of its
 * state, and it never opens the chat engine or IndexedDB.
 */
import { type FormEvent, useEffect, useState } from 'react';
import { hasAdminSession, signInAdmin, signOutAdmin } from './admin-api';
import { HealthView } from './HealthView';
import { useAdminFeed } from './use-admin-feed';

type Phase = 'checking' | 'signed-out' | 'signed-in';

export function AdminApp() {
  const [phase, setPhase] = useState<Phase>('checking');
  const [notice, setNotice] = useState<string>();

  useEffect(() => {
    hasAdminSession().then(
      (signedIn) => setPhase(signedIn ? 'signed-in' : 'signed-out'),
      () => setPhase('signed-out'),
    );
  }, []);

  const signOut = async () => {
    await signOutAdmin();
    setNotice('Signed out.');
    setPhase('signed-out');
  };

  return (
    <div className="admin">
      <header className="app-header">
        <h1>Cloak relay admin</h1>
        {phase === 'signed-in' && (
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        )}
      </header>
      <main className="admin-main">
        {phase === 'checking' && <p>Checking the admin session…</p>}
        {phase === 'signed-out' && (
          <SignInForm
            notice={notice}
            onSignedIn={() => {
              setNotice(undefined);
              setPhase('signed-in');
            }}
          />
        )}
        {phase === 'signed-in' && (
          <Dashboard
            onSessionEnded={() => {
              setNotice('The admin session ended. Sign in again.');
              setPhase('signed-out');
            }}
          />
        )}
      </main>
    </div>
  );
}

function SignInForm(props: {
  readonly notice: string | undefined;
  readonly onSignedIn: () => void;
}) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const outcome = await signInAdmin(token.trim());
    setBusy(false);
    if (outcome.ok) {
      setToken('');
      props.onSignedIn();
    } else {
      setError(outcome.message);
    }
  };

  return (
    <form className="admin-sign-in" onSubmit={(event) => void submit(event)}>
      {props.notice && <p role="status">{props.notice}</p>}
      <label htmlFor="admin-token">Admin token</label>
      <input
        id="admin-token"
        type="password"
        autoComplete="off"
        spellCheck={false}
        required
        value={token}
        onChange={(event) => setToken(event.target.value)}
      />
      <p className="hint">
        The token is in the ADMIN_TOKEN setting of the relay, or in the
        admin-token file of its data folder.
      </p>
      {error && (
        <p role="alert" className="admin-error">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy || token.trim() === ''}>
        Sign in
      </button>
    </form>
  );
}

function Dashboard(props: { readonly onSessionEnded: () => void }) {
  const feed = useAdminFeed();
  const { onSessionEnded } = props;

  useEffect(() => {
    if (feed.state === 'signed-out') onSessionEnded();
  }, [feed.state, onSessionEnded]);

  if (!feed.snapshot) {
    return (
      <p>
        {feed.state === 'offline'
          ? 'The relay cannot be reached. Retrying…'
          : 'Connecting to the relay…'}
      </p>
    );
  }
  return (
    <>
      {feed.state === 'offline' && (
        <p role="alert" className="admin-error">
          Connection to the relay lost; the figures below are stale. Retrying…
        </p>
      )}
      <HealthView snapshot={feed.snapshot} history={feed.history} />
    </>
  );
}
