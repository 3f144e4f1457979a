import { CliError } from './command';

export interface Api {
  /** Calls the gateway with the admin token, or with `key` (a consumer key) when given. */
  call<T = any>(method: string, path: string, opts?: { body?: unknown; key?: string }): Promise<T>;
}

/** A small HTTP client for the gateway; every failure becomes a CliError carrying the API's own message. */
export function createApi(opts: { url: string; token: string | undefined }): Api {
  const base = opts.url.replace(/\/+$/, '');
  return {
    async call(method, path, { body, key } = {}) {
      const credential = key ?? opts.token;
      if (!credential) throw new CliError('No admin token: set ADMIN_TOKEN or pass --token');
      const headers: Record<string, string> = { authorization: `Bearer ${credential}`, accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new CliError(`Cannot reach the gateway at ${base}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!response.ok) {
        const apiError = (parsed as { error?: { message?: string; code?: string } } | undefined)?.error;
        if (apiError?.message) throw new CliError(`${apiError.message} (${apiError.code ?? 'error'}, HTTP ${response.status})`);
        throw new CliError(`HTTP ${response.status} from ${method} ${path}: ${text.slice(0, 200)}`);
      }
      if (parsed === undefined && text) throw new CliError(`${method} ${path} did not answer JSON`);
      return parsed as any;
    },
  };
}
