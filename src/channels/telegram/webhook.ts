/**
 * Webhook mode: Telegram POSTs each update to our URL with the `X-Telegram-Bot-Api-Secret-Token`
 * header set to the secret we gave setWebhook. Every request is checked; a request without it
 * is 401, a wrong one 403, so nobody who merely knows the URL can inject messages.
 */
import crypto from 'crypto';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/**
 * A stable secret when the user set none: derived from the token (so it survives restarts and
 * differs per bot) but not revealing it. Telegram allows 1-256 chars of `A-Za-z0-9_-`.
 */
export function deriveWebhookSecret(token: string): string {
  return crypto.createHmac('sha256', 'clawflow-telegram-webhook').update(token).digest('base64url');
}

/** 0 if `given` matches, else the HTTP status to answer with. Constant-time comparison. */
export function checkWebhookSecret(expected: string, given: unknown): 0 | 401 | 403 {
  if (typeof given !== 'string' || given === '') return 401;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return 403;
  return 0;
}

/** Join the public base URL and the route path into the URL Telegram should call. */
export function webhookUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}
