/**
 * Steering messages per turn: text a user sent while their turn was running, handed to that
 * running turn at its next tool-call boundary (queue mode `steer`). The session gateway pushes,
 * the llm tool loop takes; neither imports the other, both know a turn id (like
 * turn-signals.ts). Process-local on purpose: a turn running on another instance is simply not
 * steered, and the message runs as the next turn instead.
 */

interface Slot {
  waiting: string[];
  taken: number;
}

const slots = new Map<string, Slot>();

/** Offer `text` to the running turn `turnId` (it may never take it; see {@link clearSteer}). */
export function pushSteer(turnId: string, text: string): void {
  let s = slots.get(turnId);
  if (!s) slots.set(turnId, (s = { waiting: [], taken: 0 }));
  s.waiting.push(text);
}

/** Everything pushed for `turnId` and not taken yet, oldest first; marks it taken. */
export function takeSteer(turnId: string): string[] {
  const s = slots.get(turnId);
  if (!s || !s.waiting.length) return [];
  const out = s.waiting.splice(0);
  s.taken += out.length;
  return out;
}

/**
 * Forget `turnId` (its turn ended). Returns how many pushed texts the turn took, in push
 * order: the pusher knows the first N of what it pushed reached the model, the rest did not.
 */
export function clearSteer(turnId: string): number {
  const s = slots.get(turnId);
  slots.delete(turnId);
  return s ? s.taken : 0;
}

/** Number of turns with steering state (for tests that check nothing leaks). */
export function liveSteers(): number {
  return slots.size;
}
