import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, signIn, signOut, whenSignedOut } from './api';
import { TaskDetail, TaskGallery } from './components/tasks';
import { Field, Page, Problem } from './components/ui';
import { AccountsPage } from './pages/accounts';
import { ChannelsPage } from './pages/channels';
import { ChatPage } from './pages/chat';
import { CreditsPage } from './pages/credits';
import { KeysPage } from './pages/keys';
import { ModelsPage } from './pages/models';
import { MoneyPage } from './pages/money';
import { PlaygroundPage } from './pages/playground';
import { UsagePage } from './pages/usage';
import { go, useRoute } from './router';
import { loadSession, type Session } from './session';
import './style.css';

const CONSUMER_NAV = [['credits', 'Credits'], ['usage', 'Usage'], ['tasks', 'Tasks'], ['playground', 'Playground'], ['chat', 'Chat']] as const;
const OPERATOR_NAV = [['accounts', 'Accounts'], ['keys', 'Keys'], ['models', 'Models'], ['channels', 'Channels'], ['all-tasks', 'All tasks'], ['money', 'Money']] as const;

function SignIn(props: { onSession: (s: Session) => void; notice: string | null }) {
  const [credential, setCredential] = useState('');
  const [error, setError] = useState<string | null>(props.notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(credential);
      setCredential('');
      props.onSession(session);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <Page title="media-gateway console">
        <p>Sign in with an API key to see your credits, usage and tasks, or with the admin token to run the gateway.</p>
        <form method="post" onSubmit={submit} aria-label="Sign in">
          <Field label="API key or admin token" id="credential" hint="Exchanged for a session that ends when this tab closes; the key is not stored.">
            <input id="credential" type="password" autocomplete="off" required value={credential} onInput={(e) => setCredential(e.currentTarget.value)} />
          </Field>
          <button type="submit" disabled={busy}>Sign in</button>
        </form>
        <Problem error={error} />
      </Page>
    </main>
  );
}

function Content(props: { session: Session; route: string[] }) {
  const [page, id] = props.route;
  if (props.session.role === 'consumer') {
    switch (page) {
      case 'usage': return <UsagePage />;
      case 'tasks': return id
        ? <Page title={`Task ${id}`}><TaskDetail path={`/v1/console/tasks/${encodeURIComponent(id)}`} /></Page>
        : <Page title="Tasks"><TaskGallery base="/v1/console/tasks" link={(t) => `#/tasks/${t}`} /></Page>;
      case 'playground': return <PlaygroundPage />;
      case 'chat': return <ChatPage />;
      default: return <CreditsPage />;
    }
  }
  switch (page) {
    case 'keys': return <KeysPage />;
    case 'models': return <ModelsPage />;
    case 'channels': return <ChannelsPage />;
    case 'all-tasks': return id
      ? <Page title={`Task ${id}`}><TaskDetail path={`/admin/console/tasks/${encodeURIComponent(id)}`} operator /></Page>
      : <Page title="All tasks"><TaskGallery base="/admin/console/tasks" link={(t) => `#/all-tasks/${t}`} operator /></Page>;
    case 'money': return <MoneyPage />;
    default: return <AccountsPage id={id} />;
  }
}

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();
  useEffect(() => whenSignedOut((reason) => (setNotice(reason), setSession(null))), []);
  if (!session) return <SignIn notice={notice} onSession={(s) => (setNotice(null), setSession(s), go(s.role === 'consumer' ? 'credits' : 'accounts'))} />;
  const nav = session.role === 'consumer' ? CONSUMER_NAV : OPERATOR_NAV;
  const current = route[0] ?? nav[0][0];
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">media-gateway</span>
        <nav aria-label="Console">
          <ul>
            {nav.map(([path, label]) => (
              <li key={path}><a href={`#/${path}`} aria-current={current === path ? 'page' : undefined}>{label}</a></li>
            ))}
          </ul>
        </nav>
        <span class="who">{session.role === 'consumer' ? `key ${session.keyId}` : 'operator'}</span>
        <button class="secondary" onClick={() => void signOut().then(() => setSession(null))}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <Content session={session} route={route} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
