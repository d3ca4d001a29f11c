/**
 * The loopback OpenAI fake of test/fakes, with a clock on it: when each request arrived, when
 * its first token was written and when its response ended, keyed by the request's last user
 * text (the benchmarks make that text unique per message). Latency, streaming pace and
 * failure injection are set per run through {@link TimedFake.setup}.
 */
import type http from 'http';
import { OpenAIFake } from '../../test/fakes/openai-fake';
import { lastUserText, type RecordedRequest, type ScriptedReply, type StreamControl } from '../../test/fakes/llm-fake-base';
import { now, rng } from './stats';

export interface FakeRun {
  /** Delay before the response headers, ms (the "LLM latency"). */
  latencyMs: number;
  /** Text pieces the answer is streamed in. */
  pieces: number;
  /** Pause between streamed chunks, ms. */
  chunkDelayMs: number;
  /** Share of calls that fail (0..1): half 429 with Retry-After, half 500. */
  failRate: number;
  /** Retry-After of the injected 429s, seconds. */
  retryAfterS: number;
  seed: number;
}

export interface CallTimes {
  /** First arrival of a call with this text. */
  arrived: number;
  /** First streamed content written (of the successful attempt). */
  firstToken?: number;
  /** End of the successful response. */
  ended?: number;
  attempts: number;
  failures: number;
}

export class TimedFake extends OpenAIFake {
  readonly calls = new Map<string, CallTimes>();
  injected = { s429: 0, s500: 0 };
  private run: FakeRun = { latencyMs: 0, pieces: 3, chunkDelayMs: 0, failRate: 0, retryAfterS: 1, seed: 1 };
  private rand = rng(1);

  constructor() {
    super({ apiKey: 'sk-bench' });
    // Called when a chat request arrives, before the latency: the place to time arrival and
    // decide the request's fate.
    this.fallback = (req: RecordedRequest): ScriptedReply => {
      const text = lastUserText(req.body);
      let c = this.calls.get(text);
      if (!c) this.calls.set(text, (c = { arrived: now(), attempts: 0, failures: 0 }));
      c.attempts++;
      const r = this.run;
      const base: ScriptedReply = { delayMs: r.latencyMs };
      if (r.failRate > 0 && this.rand() < r.failRate) {
        c.failures++;
        if (this.rand() < 0.5) {
          this.injected.s429++;
          return { ...base, status: 429, retryAfter: r.retryAfterS, errorMessage: 'rate limited (injected)' };
        }
        this.injected.s500++;
        return { ...base, status: 500, errorMessage: 'server error (injected)' };
      }
      return { ...base, text: this.answerTo(text), pieces: r.pieces, chunkDelayMs: r.chunkDelayMs };
    };
  }

  /** The complete answer a successful call with last user text `text` streams. */
  answerTo(text: string): string {
    return `echo: ${text} ` + 'lorem ipsum dolor sit amet '.repeat(Math.max(1, Math.floor(this.run.pieces / 2)));
  }

  /** Settings for the next run; forgets the timings of the previous one. */
  setup(run: Partial<FakeRun>): void {
    this.run = { ...this.run, ...run };
    this.rand = rng(this.run.seed);
    this.calls.clear();
    this.requests.length = 0;
    this.injected = { s429: 0, s500: 0 };
  }

  protected override async writeReply(res: http.ServerResponse, reply: ScriptedReply, req: RecordedRequest, ctl: StreamControl): Promise<void> {
    const c = this.calls.get(lastUserText(req.body));
    const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
    (res as unknown as { write: typeof write }).write = (chunk: unknown, ...rest: unknown[]) => {
      if (c && c.firstToken === undefined && /"content":"[^"]/.test(String(chunk))) c.firstToken = now();
      return write(chunk, ...rest);
    };
    await super.writeReply(res, reply, req, ctl);
    if (c) c.ended = now();
  }
}
