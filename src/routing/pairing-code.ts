/**
 * Pairing codes: short enough to read out or type on a phone, random enough not to be guessed
 * within their lifetime. 8 characters from a 31-letter alphabet without look-alikes
 * (0/O, 1/I/L) give about 2^39 codes; with a handful pending at a time and one guess per
 * owner command, guessing is not a practical attack.
 */
import { randomInt } from 'crypto';

export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 8;

/** A fresh code from the operating system's CSPRNG. */
export function newPairingCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/** Upper-case, without spaces or dashes, so `abcd-efgh` matches `ABCDEFGH`. */
export function normalizeCode(input: string): string {
  return String(input ?? '').toUpperCase().replace(/[\s-]+/g, '');
}

/** True if `input` has the shape of a code (after normalising). */
export function looksLikeCode(input: string): boolean {
  const c = normalizeCode(input);
  if (c.length !== CODE_LENGTH) return false;
  for (const ch of c) if (!CODE_ALPHABET.includes(ch)) return false;
  return true;
}
