/**
 * The console session: a short-lived token the gateway issued for the key or admin token typed at sign-in.
 * It lives in sessionStorage (this tab only, gone when the tab closes); the key itself is never stored.
 */
export interface Session {
  token: string;
  role: 'consumer' | 'operator';
  expiresAt: string;
  keyId?: string;
  accountId?: string;
}

const STORAGE_KEY = 'gateway-console-session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const session = raw ? (JSON.parse(raw) as Session) : null;
    if (!session || Date.parse(session.expiresAt) <= Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE_KEY);
}
