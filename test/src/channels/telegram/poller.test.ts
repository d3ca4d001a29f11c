/**
 * The polling loop alone with real grammY against the fake Bot API: offset persistence, a
 * throwing handler, and stop() aborting the in-flight long poll.
 */
import assert from 'assert';
import { Bot } from 'grammy';
import { startFakeTelegram, type FakeTelegram } from '../../../fakes/telegram-bot-api';
import { Poller, type PollerEvent } from '../../../../src/channels/telegram/poller';
import { offsetStoreFor } from '../../../../src/channels/telegram/offsets';
import { MemoryKeyValueStore } from '../../../../src/store/kv';

describe('telegram poller', () => {
  let tg: FakeTelegram;
  beforeEach(async () => {
    tg = await startFakeTelegram();
  });
  afterEach(() => tg.close());

  function poller(kv: MemoryKeyValueStore, seen: unknown[], states: PollerEvent[], problems: Error[], onUpdate?: (u: any) => void) {
    const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
    return new Poller({
      api: bot.api,
      offsets: offsetStoreFor(kv, tg.bot.id),
      timeoutSeconds: 10,
      backoff: { initialMs: 20, maxMs: 50 },
      onUpdate: onUpdate ?? ((u) => seen.push(u)),
      onState: (s) => states.push(s),
      onProblem: (e) => problems.push(e),
    });
  }

  it('persists the offset after each batch and resumes from it', async () => {
    const kv = new MemoryKeyValueStore();
    const seen: any[] = [];
    const p = poller(kv, seen, [], []);
    p.start();
    const a = tg.userSays('a');
    await tg.waitFor(() => seen.length === 1, 'a');
    await tg.waitFor(() => tg.activePolls() === 1, 'next poll');
    await p.stop();
    assert.strictEqual(await kv.get(`offset:${tg.bot.id}`), a.update_id + 1);
    tg.injectUpdate(a); // re-delivered by Telegram
    tg.userSays('b');
    const seen2: any[] = [];
    const p2 = poller(kv, seen2, [], []);
    p2.start();
    await tg.waitFor(() => seen2.length === 1, 'b');
    await p2.stop();
    assert.strictEqual(seen2[0].message.text, 'b');
  });

  it('a throwing handler is reported and the loop goes on', async () => {
    const seen: any[] = [];
    const problems: Error[] = [];
    const p = poller(new MemoryKeyValueStore(), seen, [], problems, (u) => {
      if (u.message.text === 'boom') throw new Error('handler broke');
      seen.push(u);
    });
    p.start();
    tg.userSays('boom');
    tg.userSays('ok');
    await tg.waitFor(() => seen.length === 1, 'ok');
    await p.stop();
    assert.deepStrictEqual(problems.map((e) => e.message), ['handler broke']);
  });

  it('stop() aborts the held long poll at once and ends in state stopped', async () => {
    const states: PollerEvent[] = [];
    const p = poller(new MemoryKeyValueStore(), [], states, []);
    p.start();
    await tg.waitFor(() => tg.activePolls() === 1, 'a held poll');
    await p.stop();
    await tg.waitFor(() => tg.activePolls() === 0, 'poll released', 1000);
    assert.deepStrictEqual(states.map((s) => s.state), ['connecting', 'polling', 'stopped']);
  });
});
