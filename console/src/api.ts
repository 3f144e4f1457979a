import { loadSession, saveSession, type Session } from './session';

/** An error answer of the gateway, in its `{"error":{"message","type","code"}}` format. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let onSignedOut: (reason: string) => void = () => undefined;

/** Called when the gateway refuses the session (expired, or its key revoked), so the app asks to sign in again. */
export function whenSignedOut(handler: (reason: string) => void): void {
  onSignedOut = handler;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const session = loadSession();
  return { ...(session ? { authorization: `Bearer ${session.token}` } : {}), ...extra };
}

async function failure(response: Response): Promise<ApiError> {
  let code = 'http_error';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // Not JSON: keep the status line.
  }
  // 401 on a signed-in call: the session expired, or the key behind it was revoked or expired.
  if (response.status === 401 && loadSession()) {
    saveSession(null);
    onSignedOut(message);
  }
  return new ApiError(response.status, code, message);
}

/** Calls the gateway with the session token; throws ApiError for an error answer. */
export async function api<T>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: headers(body === undefined ? extra : { 'content-type': 'application/json', ...extra }),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** POSTs and reads a Server-Sent Events answer, calling `onData` with each `data:` payload until `[DONE]`. */
export async function stream(path: string, body: unknown, onData: (data: string) => void, signal?: AbortSignal): Promise<void> {
  const response = await fetch(path, {
    method: 'POST', headers: headers({ 'content-type': 'application/json', accept: 'text/event-stream' }), body: JSON.stringify(body), signal,
  });
  if (!response.ok || !response.body) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
      if (data === '[DONE]') return;
      if (data) onData(data);
    }
  }
}

/** Exchanges a key or the admin token for a session, which is kept for this tab. */
export async function signIn(credential: string): Promise<Session> {
  const answer = await api<{ token: string; role: Session['role']; expires_at: string; key_id?: string; account_id?: string }>(
    'POST', '/console/api/session', { credential },
  );
  const session: Session = { token: answer.token, role: answer.role, expiresAt: answer.expires_at, keyId: answer.key_id, accountId: answer.account_id };
  saveSession(session);
  return session;
}

export async function signOut(): Promise<void> {
  await api('DELETE', '/console/api/session').catch(() => undefined);
  saveSession(null);
}
