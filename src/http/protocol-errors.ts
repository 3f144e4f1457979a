import http, { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorBody, ErrorType } from './errors';

/** How long a socket we answered may linger before we drop it (a slow client may never close its side). */
const CLOSE_GRACE_MS = 1000;

/** node's error codes for requests its parser or its timers refused, and how we answer each. */
const ANSWERS: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'The request headers are too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, code: 'request_too_large', message: 'The chunk extensions are too large' },
};

/**
 * Answers, in the brief's error format, what node's HTTP server refuses before Koa sees a request: a
 * malformed request (unknown method, bad framing), headers over the size limit, a client slower than
 * headersTimeout/requestTimeout, and an `Expect` other than 100-continue. Left alone, node answers those
 * with a bare status line and no body.
 */
export function installProtocolErrorAnswers(server: http.Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // A response already on its way can't be followed by another one on the same socket.
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const answer = ANSWERS[error.code ?? ''] ?? { status: 400, code: 'malformed_request', message: 'The request is not valid HTTP' };
    const body = JSON.stringify(errorBody(answer.code, answer.message, 'invalid_request_error'));
    socket.end(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  });

  server.on('checkExpectation', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = JSON.stringify(errorBody('expectation_failed', 'Only "Expect: 100-continue" is supported', 'invalid_request_error'));
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
}

function errorBody(code: string, message: string, type: ErrorType): ErrorBody {
  return { error: { message, type, code } };
}
