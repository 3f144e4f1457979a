import type Koa from 'koa';
import { AppError } from '../../http/errors';
import { SESSION_PREFIX, type ConsoleSessions, type SessionRole } from './sessions';

/** The paths each kind of session may call: a consumer's the public API, an operator's the admin API. */
const SCOPES: Record<SessionRole, RegExp> = {
  consumer: /^\/v1(\/|$)/,
  operator: /^\/admin(\/|$)/,
};

/**
 * Lets a console session token stand in for the credential it was exchanged for. Runs before the
 * consumer and admin auth: a live session's bearer is replaced by its credential (in this request's
 * headers only) on the paths of its role, so every check of the existing routes applies unchanged. An
 * unknown or expired session answers 401 `session_expired`; a session on another role's path keeps its
 * session token, which that path's auth refuses.
 */
export function consoleSessionAuth(sessions: ConsoleSessions): Koa.Middleware {
  return async (ctx, next) => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
    if (!bearer?.startsWith(SESSION_PREFIX)) return next();
    const session = sessions.resolve(bearer);
    if (!session) throw new AppError(401, 'session_expired', 'The console session has expired or ended: sign in again', 'authentication_error');
    if (SCOPES[session.role].test(ctx.path)) ctx.req.headers.authorization = `Bearer ${session.credential}`;
    return next();
  };
}
