import { useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, stream } from '../api';
import { Field, Page, Problem } from '../components/ui';
import { useApi } from '../hooks';
import type { PublicModel } from '../media-form';

interface Message {
  role: 'user' | 'assistant';
  content: string;
}

/** A chat that streams (POST /v1/chat/completions with stream: true), token by token. */
export function ChatPage() {
  const { data: models, error: modelsError } = useApi<{ data: PublicModel[] }>('/v1/models');
  const chatModels = useMemo(() => models?.data.filter((m) => m.category === 'chat') ?? [], [models]);
  const [modelId, setModelId] = useState('');
  const model = chatModels.find((m) => m.id === modelId) ?? chatModels[0];
  const [messages, setMessages] = useState<Message[]>([]);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);

  async function send(e: Event) {
    e.preventDefault();
    if (!model || !draft.trim()) return;
    const history: Message[] = [...messages, { role: 'user', content: draft }];
    setMessages([...history, { role: 'assistant', content: '' }]);
    setDraft('');
    setError(null);
    setBusy(true);
    abort.current = new AbortController();
    let answer = '';
    try {
      await stream('/v1/chat/completions', { model: model.id, messages: history, stream: true }, (data) => {
        const chunk = JSON.parse(data) as { choices?: { delta?: { content?: string } }[]; error?: { message: string } };
        if (chunk.error) throw new Error(chunk.error.message);
        answer += chunk.choices?.[0]?.delta?.content ?? '';
        setMessages([...history, { role: 'assistant', content: answer }]);
      }, abort.current.signal);
    } catch (failure) {
      if ((failure as Error).name !== 'AbortError') setError(failure instanceof ApiError ? `${failure.code}: ${failure.message}` : String(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title="Chat playground">
      <Problem error={modelsError} />
      {models && !model && <p class="muted">This key may use no chat model.</p>}
      {model && (
        <>
          <Field label="Model" id="chat-model">
            <select id="chat-model" value={model.id} onChange={(e) => setModelId(e.currentTarget.value)}>
              {chatModels.map((m) => <option key={m.id} value={m.id}>{m.id}</option>)}
            </select>
          </Field>
          <ol class="chat" aria-live="polite" aria-label="Conversation">
            {messages.map((m, i) => <li key={i} class={`msg msg-${m.role}`}><span class="who">{m.role}</span> <span class="text">{m.content}</span></li>)}
          </ol>
          <Problem error={error} />
          <form class="chat-form" onSubmit={send} aria-label="Send a message">
            <label for="chat-input" class="visually-hidden">Message</label>
            <textarea id="chat-input" rows={2} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} placeholder="Say something" />
            <button type="submit" disabled={busy}>Send</button>
            {busy && <button type="button" class="secondary" onClick={() => abort.current?.abort()}>Stop</button>}
          </form>
        </>
      )}
    </Page>
  );
}
