import { createHash, randomBytes } from 'node:crypto';

/** Who a console session speaks for. */
export type SessionRole = 'consumer' | 'operator';

interface Session {
  role: SessionRole;
  /** The API key or admin token the session was exchanged for: it never leaves this process. */
  credential: string;
  expiresAt: number;
}

/** A console session as its holder sees it. */
export interface IssuedSession {
  token: string;
  role: SessionRole;
  expiresAt: Date;
}

/** Session tokens start with this, so the auth layer can tell one from an API key at a glance. */
export const SESSION_PREFIX = 'gwcs_';

/**
 * Short-lived console sessions, in this API process's memory. The browser holds only the session token;
 * the key or admin token it stands for stays here, so the existing routes authenticate the session
 * exactly as they would the credential itself (revocation, expiry, IP allowlist, rpm). Tokens are stored
 * by their SHA-256, so a heap dump shows no usable token. With several API replicas a session lives on the
 * replica that issued it (sticky sessions, or sign in again).
 */
export function createConsoleSessions(opts: { ttlSeconds: number; now?: () => number; maxSessions?: number }) {
  const now = opts.now ?? Date.now;
  const max = opts.maxSessions ?? 10_000;
  const byHash = new Map<string, Session>();
  const digest = (token: string) => createHash('sha256').update(token).digest('hex');

  function sweep(): void {
    const t = now();
    for (const [hash, session] of byHash) if (session.expiresAt <= t) byHash.delete(hash);
  }

  return {
    /** Issues a new session token for a credential the caller has already checked. */
    issue(role: SessionRole, credential: string): IssuedSession {
      if (byHash.size >= max) sweep();
      // Still full of live sessions: the oldest goes first (a Map iterates in insertion order).
      if (byHash.size >= max) byHash.delete(byHash.keys().next().value!);
      const token = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
      const expiresAt = now() + opts.ttlSeconds * 1000;
      byHash.set(digest(token), { role, credential, expiresAt });
      return { token, role, expiresAt: new Date(expiresAt) };
    },
    /** The live session of a token, or null when it is unknown or expired. */
    resolve(token: string): { role: SessionRole; credential: string } | null {
      const hash = digest(token);
      const session = byHash.get(hash);
      if (!session) return null;
      if (session.expiresAt <= now()) {
        byHash.delete(hash);
        return null;
      }
      return { role: session.role, credential: session.credential };
    },
    /** Ends a session (sign-out). */
    revoke(token: string): void {
      byHash.delete(digest(token));
    },
    /** How many sessions are held. */
    size: () => byHash.size,
  };
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;
