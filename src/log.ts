import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Structured JSON logs. Secrets never reach a log line: the redact list covers the headers and fields
 * that carry them, and the code never logs channel rows or keys in the first place.
 */
export function createLogger(opts: { level: string; name?: string; /** A file to append to instead of stdout. */ destination?: string }): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    name: opts.name ?? 'gateway',
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'headers.authorization',
        '*.apiKey',
        '*.api_key',
        '*.key',
        '*.webhookSecret',
        '*.webhook_secret',
      ],
      censor: '[redacted]',
    },
  };
  return opts.destination ? pino(options, pino.destination({ dest: opts.destination, sync: true })) : pino(options);
}
