/**
 * An LLM 429 storm in a real Node-RED process: 100 Telegram messages from 20 users while the
 * fake OpenAI answers every third-or-so call with 429 + Retry-After. Every message ends in
 * something the user sees (the answer, the busy reply or the apology), nothing is answered
 * twice or invented, and the runtime keeps serving its admin API.
 */
import assert from 'assert';
import { OpenAIFake } from '../fakes/openai-fake';
import { startFakeTelegram, type FakeTelegram, type FakeUser } from '../fakes/telegram-bot-api';
import { APOLOGY, BUSY, coveredBy, echoTurn, telegramFlow } from '../support/e2e-process-flows';
import {
  alive, crashLines, deploy, flowsStarted, makeUserDir, snapshotPackage, startOn, stopQuietly, unexpectedErrors, waitUntil,
  type PackageSnapshot,
} from '../support/e2e-process-harness';
import type { NodeRedProcess } from '../support/node-red-process';

describe('e2e process: LLM 429 storm (Telegram)', function () {
  this.timeout(120_000);
  let snap: PackageSnapshot;
  let tg: FakeTelegram;
  let llm: OpenAIFake;
  let nr: NodeRedProcess | undefined;
  let calls = 0;
  let limited = 0;
  let storm = true;
  let down = false;

  before(async () => {
    snap = snapshotPackage();
    tg = await startFakeTelegram();
    llm = await new OpenAIFake({ apiKey: 'sk-e2e', latencyMs: 30 }).start();
    // Deterministic 30 %: calls 0, 3, 6 of every ten are rate limited.
    llm.fallback = (req) => {
      if (down) return { reset: 'before' };
      const n = calls++;
      if (storm && [0, 3, 6].includes(n % 10)) {
        limited++;
        return { status: 429, retryAfter: 1, errorMessage: 'Rate limit reached for requests' };
      }
      return { text: echoTurn(req.body) };
    };
  });
  afterEach(async function () {
    // A failed test's process would otherwise keep polling the shared fake and answer the
    // next test's messages too (a cascade of "answered twice" failures).
    if (this.currentTest?.state !== 'failed') return;
    await stopQuietly(nr);
    nr = undefined;
  });
  after(async () => {
    await stopQuietly(nr);
    await tg?.close();
    await llm?.close();
    snap?.remove();
  });

  it('100 messages from 20 users: each gets the answer, a busy reply or the apology; Node-RED stays up', async () => {
    nr = await startOn(makeUserDir(snap, 'storm'));
    await deploy(nr, telegramFlow(tg, { llmUrl: llm.url, llmKey: 'sk-e2e', store: 'file', concurrency: 8, maxWaitingPerSession: 5, stream: false }));
    await flowsStarted(nr);
    await tg.waitFor(() => tg.activePolls() === 1, 'the bot polling', 15_000);
    const logFrom = nr.log().length;

    const users: FakeUser[] = Array.from({ length: 20 }, (_, i) => ({ id: 5000 + i, is_bot: false, first_name: `L${i}` }));
    const textsOf = new Map<number, string[]>(users.map((u) => [u.id, [1, 2, 3, 4, 5].map((k) => `storm-${u.id}-${k}`)]));
    for (let k = 0; k < 5; k++) for (const u of users) tg.userSays(textsOf.get(u.id)![k], { from: u, chat: { id: u.id, type: 'private' } });

    /** Per user: distinct messages answered, busy replies, apologies. */
    const tally = (u: FakeUser) => {
      const sent = tg.sent(u.id);
      const answered = new Set(sent.flatMap((m) => coveredBy(m.text)));
      return {
        answered,
        busy: sent.filter((m) => m.text === BUSY).length,
        apology: sent.filter((m) => m.text === APOLOGY).length,
        finals: sent.length,
      };
    };
    // One final reply per message. (Counting answered messages would settle too early: an
    // apologised message is in the history, so a later answer covers it again.)
    const settled = (u: FakeUser) => tally(u).finals >= 5;
    await waitUntil(() => users.every(settled), 'every message settled', 90_000, () =>
      users.filter((u) => !settled(u)).map((u) => `${u.id}: ${JSON.stringify(tg.sent(u.id).map((m) => m.text))}`).join('; '),
    );
    assert.ok(await alive(nr), 'GET /settings stopped answering');

    let answered = 0;
    let busy = 0;
    let apologies = 0;
    for (const u of users) {
      const t = tally(u);
      for (const w of t.answered) assert.ok(textsOf.get(u.id)!.includes(w), `user ${u.id} got an answer to "${w}"`);
      // One final message per message: nothing answered twice, nothing silent. A message that
      // got the apology is in the history, so the next answer may cover it again ("re: 4 | 5").
      const shown = JSON.stringify(tg.sent(u.id).map((m) => m.text));
      assert.strictEqual(t.finals, 5, `user ${u.id} got ${t.finals} replies to 5 messages: ${shown}`);
      const covers = tg.sent(u.id).flatMap((m) => coveredBy(m.text));
      assert.strictEqual(covers.length, t.answered.size, `user ${u.id}: a message answered twice: ${shown}`);
      assert.ok(t.answered.size + t.busy + t.apology >= 5, `user ${u.id}: a message left silent: ${shown}`);
      answered += t.answered.size;
      busy += t.busy;
      apologies += t.apology;
    }
    // Every message had its reply (checked per user above); an apologised message may also be
    // covered by a later answer, so these counts can add up to a little more than 100.
    assert.ok(answered + busy + apologies >= 100, `${answered} answered + ${busy} busy + ${apologies} apologies`);
    assert.ok(limited > 0, 'the storm happened');
    // eslint-disable-next-line no-console
    console.log(`      429 storm: ${calls} LLM calls, ${limited} limited; ${answered} answered, ${busy} busy, ${apologies} apologies`);
    const log = nr.log().slice(logFrom);
    assert.deepStrictEqual(crashLines(log), []);
    // A turn whose retries ran out is reported on the llm node (the user got the apology).
    assert.deepStrictEqual(unexpectedErrors(log, /429|rate limit/i), []);
    await stopQuietly(nr);
    nr = undefined;
  });

  it('Telegram answers sendMessage with 429s: every reply still arrives, once', async () => {
    nr = await startOn(makeUserDir(snap, 'tg429'));
    storm = false; // the LLM answers every call now
    await deploy(nr, telegramFlow(tg, { llmUrl: llm.url, llmKey: 'sk-e2e', store: 'file', stream: false }));
    await flowsStarted(nr);
    await tg.waitFor(() => tg.activePolls() === 1, 'the bot polling', 15_000);
    const logFrom = nr.log().length;
    const fails = tg.calls.filter((c) => c.answered === 429).length;
    tg.fail('sendMessage', { code: 429, retryAfter: 1 }, 6);
    const users: FakeUser[] = Array.from({ length: 10 }, (_, i) => ({ id: 5500 + i, is_bot: false, first_name: `T${i}` }));
    users.forEach((u) => tg.userSays(`tg429-${u.id}`, { from: u, chat: { id: u.id, type: 'private' } }));
    await waitUntil(() => users.every((u) => tg.sent(u.id).some((m) => coveredBy(m.text).includes(`tg429-${u.id}`))), 'every reply', 40_000, () =>
      JSON.stringify(tg.sent().filter((m) => m.chatId >= 5500).map((m) => [m.chatId, m.text])),
    );
    assert.ok(tg.calls.filter((c) => c.answered === 429).length - fails >= 6, 'the 429s were served');
    for (const u of users) assert.strictEqual(tg.sent(u.id).length, 1, `user ${u.id}: ${JSON.stringify(tg.sent(u.id).map((m) => m.text))}`);
    const log = nr.log().slice(logFrom);
    assert.deepStrictEqual(crashLines(log), []);
    assert.ok(await alive(nr));
  });

  it('LLM unreachable: every user gets the apology, and answers resume when it is back', async () => {
    await stopQuietly(nr);
    nr = await startOn(makeUserDir(snap, 'llm-down'));
    storm = false;
    await deploy(nr, telegramFlow(tg, { llmUrl: llm.url, llmKey: 'sk-e2e', store: 'file', stream: true }));
    await flowsStarted(nr);
    await tg.waitFor(() => tg.activePolls() === 1, 'the bot polling', 15_000);
    const logFrom = nr.log().length;
    down = true;
    const users: FakeUser[] = Array.from({ length: 3 }, (_, i) => ({ id: 5800 + i, is_bot: false, first_name: `D${i}` }));
    users.forEach((u) => tg.userSays(`down-${u.id}`, { from: u, chat: { id: u.id, type: 'private' } }));
    await waitUntil(() => users.every((u) => tg.sent(u.id).some((m) => m.text === APOLOGY)), 'the apology to every user', 40_000, () =>
      JSON.stringify(tg.sent().filter((m) => m.chatId >= 5800).map((m) => [m.chatId, m.text])),
    );
    down = false;
    users.forEach((u) => tg.userSays(`up-${u.id}`, { from: u, chat: { id: u.id, type: 'private' } }));
    await waitUntil(() => users.every((u) => tg.sent(u.id).some((m) => coveredBy(m.text).includes(`up-${u.id}`))), 'answers once the LLM is back', 20_000);
    // One reply per message: the apology, then the answer (which may see the failed question in
    // its history; it is not a second reply to it).
    for (const u of users) assert.deepStrictEqual(tg.sent(u.id).map((m) => (m.text === APOLOGY ? 'apology' : 'answer')), ['apology', 'answer'], JSON.stringify(tg.sent(u.id).map((m) => m.text)));
    const log = nr.log().slice(logFrom);
    assert.deepStrictEqual(crashLines(log), []);
    assert.ok(await alive(nr));
  });
});
