/**
 * Pattern mentions: regular expressions (the bot's nickname, "hey claw") that make a group
 * message count as addressed to the bot, for platforms and habits where people do not use
 * the platform's @mention.
 *
 * The patterns come from the flow editor and run on every group message, so they are
 * checked once at deploy and bounded at run time: a pattern is at most
 * {@link MAX_PATTERN_LENGTH} characters, nested quantifiers such as `(a+)+` (the classic
 * catastrophic backtracking shape) are refused, and only the first {@link MAX_TEXT_TESTED}
 * characters of a message are tested. Matching is always case-insensitive.
 */

export const MAX_PATTERN_LENGTH = 200;
export const MAX_PATTERNS = 20;
export const MAX_TEXT_TESTED = 2000;

/** A quantified group whose body holds a quantifier: `(a+)+`, `(\w*\s)*`, `(x+){2,}`. */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]/;

export class MentionPatterns {
  constructor(readonly sources: readonly string[], private readonly regexes: readonly RegExp[]) {}

  get size(): number {
    return this.regexes.length;
  }

  /** True if any pattern matches the start of `text` (up to {@link MAX_TEXT_TESTED} characters). */
  matches(text: string): boolean {
    if (!this.regexes.length || !text) return false;
    const head = text.length > MAX_TEXT_TESTED ? text.slice(0, MAX_TEXT_TESTED) : text;
    return this.regexes.some((r) => r.test(head));
  }
}

/**
 * Parse the editor field: one pattern per line (commas belong to regexes, `{2,3}`), or an
 * array. Throws one error naming every bad pattern and why, so a deploy reports it clearly.
 */
export function parseMentionPatterns(input: string | readonly string[] | undefined): MentionPatterns {
  const raw = Array.isArray(input) ? input.map(String) : String(input ?? '').split(/\r?\n/);
  const sources = raw.map((s) => s.trim()).filter(Boolean);
  const problems: string[] = [];
  if (sources.length > MAX_PATTERNS) problems.push(`at most ${MAX_PATTERNS} patterns, got ${sources.length}`);
  const regexes: RegExp[] = [];
  for (const src of sources) {
    const why = patternProblem(src);
    if (why) {
      problems.push(`${JSON.stringify(src)} ${why}`);
      continue;
    }
    regexes.push(new RegExp(src, 'i'));
  }
  if (problems.length) throw new Error(`mention patterns: ${problems.join('; ')}`);
  return new MentionPatterns(sources, regexes);
}

/** Why `src` is not accepted as a mention pattern, or undefined when it is fine. */
export function patternProblem(src: string): string | undefined {
  if (src.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  if (NESTED_QUANTIFIER.test(src)) return 'repeats a group that itself repeats (like (a+)+), which can hang on some texts: simplify it';
  try {
    new RegExp(src, 'i');
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`;
  }
  return undefined;
}
