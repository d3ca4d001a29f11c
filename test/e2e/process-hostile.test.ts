/**
 * Hostile input from a (fake) Telegram into a real Node-RED process: a 100k-character text,
 * lone UTF-16 surrogates, updates with missing fields and fields of the wrong type. The
 * process stays up, a broken update is reported (not thrown), and a good message after them is
 * answered.
 */
import assert from 'assert';
import { OpenAIFake } from '../fakes/openai-fake';
import { startFakeTelegram, type FakeTelegram, type FakeUser } from '../fakes/telegram-bot-api';
import { coveredBy, echoTurn, telegramFlow } from '../support/e2e-process-flows';
import {
  alive, crashLines, deploy, flowsStarted, makeUserDir, snapshotPackage, startOn, stopQuietly, waitUntil,
  type PackageSnapshot,
} from '../support/e2e-process-harness';
import type { NodeRedProcess } from '../support/node-red-process';
import { MAX_INBOUND_TEXT } from '../../src/envelope';

describe('e2e process: hostile Telegram input', function () {
  this.timeout(90_000);
  let snap: PackageSnapshot;
  let tg: FakeTelegram;
  let llm: OpenAIFake;
  let nr: NodeRedProcess | undefined;

  before(async () => {
    snap = snapshotPackage();
    tg = await startFakeTelegram();
    llm = await new OpenAIFake({ apiKey: 'sk-e2e' }).start();
    llm.fallback = (req) => ({ text: echoTurn(req.body) });
  });
  after(async () => {
    await stopQuietly(nr);
    await tg?.close();
    await llm?.close();
    snap?.remove();
  });

  it('survives huge, broken and ill-typed updates and answers the next good message', async () => {
    nr = await startOn(makeUserDir(snap, 'hostile'));
    await deploy(nr, telegramFlow(tg, { llmUrl: llm.url, llmKey: 'sk-e2e', store: 'file', stream: false }));
    await flowsStarted(nr);
    await tg.waitFor(() => tg.activePolls() === 1, 'the bot polling', 15_000);
    const logFrom = nr.log().length;

    const u = (id: number): FakeUser => ({ id, is_bot: false, first_name: `H${id}` });
    const chat = (id: number) => ({ id, type: 'private' as const });
    const now = Math.floor(Date.now() / 1000);
    // 1. Far over Telegram's 4096 cap.
    tg.userSays('x'.repeat(100_000), { from: u(6001), chat: chat(6001) });
    // 2. Lone surrogates (JSON.stringify escapes them; the receiver gets ill-formed UTF-16).
    tg.userSays('bad \uD800 surrogate \uDC00 end \uDBFF', { from: u(6002), chat: chat(6002) });
    // 3. Missing fields.
    tg.injectUpdate({ message: { message_id: 1 } });
    tg.injectUpdate({ message: { message_id: 2, date: now, text: 'no chat, no sender' } });
    tg.injectUpdate({ message: null });
    tg.injectUpdate({});
    // 4. Unexpected types.
    tg.injectUpdate({ message: { message_id: 'x', date: 'now', chat: { id: 'abc', type: 42 }, from: { id: [], is_bot: 'no' }, text: { a: 1 } } });
    tg.injectUpdate({ message: { message_id: 3, date: now, chat: chat(6003), from: u(6003), text: 12345, entities: 'none' } });
    tg.injectUpdate({ edited_message: [1, 2, 3] });
    tg.injectUpdate({ message: { message_id: 4, date: now, chat: chat(6004), from: u(6004), text: 'entities lie', entities: [{ type: 'mention', offset: -5, length: 1e9 }, null, 7] } });
    tg.injectUpdate({ message: { message_id: 5, date: now, chat: chat(6005), from: u(6005), caption: ['not', 'text'], photo: 'nope' } });
    tg.injectUpdate({ message: { message_id: 6, date: now, chat: chat(6006), from: u(6006), text: '/start@' + 'b'.repeat(5000), reply_to_message: 'yes' } });
    // 5. A good message after all of that.
    tg.userSays('still there?', { from: u(6010), chat: chat(6010) });

    await waitUntil(() => tg.sent(6010).some((m) => coveredBy(m.text).includes('still there?')), 'an answer to the good message', 30_000, () =>
      JSON.stringify(tg.sent().map((m) => [m.chatId, m.text.slice(0, 60)])),
    );
    assert.ok(await alive(nr), 'GET /settings stopped answering');
    await tg.waitFor(() => tg.pending() === 0, 'every update confirmed (none stuck at the head)', 10_000);

    // The huge message was cut at the inbound bound and answered in chunks within Telegram's
    // limit (the fake refuses > 4096).
    await waitUntil(() => tg.sent(6001).map((m) => m.text).join('').replace(/\s/g, '').length >= MAX_INBOUND_TEXT, 'the long answer', 20_000);
    assert.ok(tg.sent(6001).every((m) => m.text.length <= 4096));
    // The ill-formed UTF-16 message is answered too (the surrogates may be replaced on the way).
    await waitUntil(() => tg.sent(6002).some((m) => m.text.includes('surrogate')), 'an answer to the surrogate message', 10_000, () =>
      JSON.stringify(tg.sent(6002).map((m) => m.text)) + nr!.log().slice(logFrom).split('\n').filter((l) => /\[(error|warn)\]/.test(l)).join('\n'),
    );
    // Nobody was answered who did not write a message with text.
    const answeredChats = new Set(tg.sent().map((m) => m.chatId));
    for (const id of answeredChats) assert.ok([6001, 6002, 6003, 6004, 6005, 6006, 6010].includes(id), `answered chat ${id}`);
    const log = nr.log().slice(logFrom);
    assert.deepStrictEqual(crashLines(log), [], 'a crash or stack trace in the log');
  });
});
