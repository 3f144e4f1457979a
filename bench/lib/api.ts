/** A small client of the gateway's HTTP API for the benchmark's setup and drivers. */
export interface ApiClient {
  origin: string;
  admin<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  call(method: string, path: string, opts?: { key?: string; body?: unknown }): Promise<{ status: number; body: any }>;
}

export function apiClient(origin: string, adminToken: string): ApiClient {
  const call: ApiClient['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = {};
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${origin}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: response.status, body };
  };
  return {
    origin,
    call,
    async admin(method, path, body) {
      const response = await fetch(`${origin}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status >= 300) throw new Error(`${method} ${path} -> ${response.status} ${text}`);
      return (text ? JSON.parse(text) : null) as any;
    },
  };
}

/** Waits until GET `url` answers 200. */
export async function waitForHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
