import { Webhook } from 'standardwebhooks';

/** The headers of a Standard Webhooks message: `webhook-id`, `webhook-timestamp`, `webhook-signature`. */
export function signWebhook(secret: string, messageId: string, timestamp: Date, payload: string): Record<string, string> {
  const signature = new Webhook(secret).sign(messageId, timestamp, payload);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signature,
  };
}
