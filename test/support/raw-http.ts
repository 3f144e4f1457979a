import http from 'node:http';

/** An answer as the socket delivered it: nothing normalised, the body kept as text and parsed when it is JSON. */
export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

/** One request exactly as a hostile client writes it: the path is sent as given (no `..` folding, no re-encoding). */
export interface RawRequest {
  method: string;
  /** Must hold only bytes 0x21-0xff (node refuses anything else); percent-encode the rest. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/**
 * Sends one request on a fresh connection and resolves with the answer. An early answer (e.g. a 413 sent
 * before the body was read) wins over the write error that follows it; only a request that got no answer
 * at all rejects.
 */
export function rawRequest(baseUrl: string, req: RawRequest, timeoutMs = 30_000): Promise<RawAnswer> {
  const base = new URL(baseUrl);
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (body && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-length' || name.toLowerCase() === 'transfer-encoding')) {
    headers['content-length'] = String(body.length);
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = http.request(
      { host: base.hostname, port: base.port, method: req.method, path: req.path, headers, agent: false, timeout: timeoutMs },
      (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => finish());
        response.on('end', finish);
        response.on('close', finish);
        let done = false;
        function finish(): void {
          if (done) return;
          done = true;
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
        }
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer to ${req.method} ${req.path} within ${timeoutMs} ms`)));
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (body) request.end(body);
    else request.end();
  });
}
