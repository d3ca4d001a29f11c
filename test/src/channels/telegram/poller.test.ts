/**
 * The polling loop alone with real grammY against the fake Bot API: offset persistence, a
 * throwing handler, stop() aborting the in-flight long poll, and confirming an update only
 * after its hand-off (decision 0160).
 */
import assert from 'assert';
import { Bot } from 'grammy';
import { startFakeTelegram, type FakeTelegram } from '../../../fakes/telegram-bot-api';
import { Poller, type PollerEvent } from '../../../../src/channels/telegram/poller';
import { offsetStoreFor } from '../../../../src/channels/telegram/offsets';
import { MemoryKeyValueStore } from '../../../../src/store/kv';
import { expectHandoff, handedOff, newHandoffId, pendingHandoffs } from '../../../../src/handoff';

describe('telegram poller', () => {
  let tg: FakeTelegram;
  beforeEach(async () => {
    tg = await startFakeTelegram();
  });
  afterEach(() => tg.close());

  function poller(
    kv: MemoryKeyValueStore,
    seen: unknown[],
    states: PollerEvent[],
    problems: Error[],
    onUpdate?: (u: any) => void | Promise<boolean>,
  ) {
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

  it('Telegram renumbering its updates (a week without any) does not make the bot deaf, running or restarted', async () => {
    const kv = new MemoryKeyValueStore();
    const seen: any[] = [];
    const p = poller(kv, seen, [], []);
    p.start();
    tg.userSays('before');
    await tg.waitFor(() => seen.length === 1, 'before');
    await tg.waitFor(() => tg.activePolls() === 1, 'next poll');
    tg.renumberUpdates(1000);
    tg.userSays('after');
    await tg.waitFor(() => seen.length === 2, 'the first update with a lower id');
    await tg.waitFor(() => tg.activePolls() === 1, 'next poll');
    const polls = tg.calls.filter((c) => c.method === 'getUpdates').length;
    tg.userSays('next');
    await tg.waitFor(() => seen.length === 3, 'the one after it');
    await p.stop();
    assert.deepStrictEqual(seen.map((u) => u.message.text), ['before', 'after', 'next']);
    assert.ok(tg.calls.filter((c) => c.method === 'getUpdates').length <= polls + 2, 'no spinning on the lower ids');
    assert.strictEqual(await kv.get(`offset:${tg.bot.id}`), 1002);

    // Restarted with a saved offset from before the renumbering (the usual case: weeks idle).
    const kv2 = new MemoryKeyValueStore();
    await kv2.set(`offset:${tg.bot.id}`, 900_000);
    tg.renumberUpdates(2000);
    tg.userSays('after a restart');
    const seen2: any[] = [];
    const p2 = poller(kv2, seen2, [], []);
    p2.start();
    await tg.waitFor(() => seen2.length === 1, 'the update below the saved offset');
    await p2.stop();
    assert.strictEqual(await kv2.get(`offset:${tg.bot.id}`), 2001);
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

  it('a getUpdates answer that is not a list backs off like a failure, says so once per try, and recovers', async () => {
    const seen: any[] = [];
    const states: PollerEvent[] = [];
    const problems: Error[] = [];
    const p = poller(new MemoryKeyValueStore(), seen, states, problems);
    tg.fail('getUpdates', { result: 'not-an-array' }, 4);
    tg.fail('getUpdates', { result: { updates: [] } }, 2);
    p.start();
    const polls = () => tg.calls.filter((c) => c.method === 'getUpdates');
    await tg.waitFor(() => polls().length >= 7, 'six odd answers and the poll after them');
    // Backoff here is 20-50 ms: each call after an odd answer waits for it (a spinning loop does not).
    const gaps = polls().slice(0, 7).map((c, i, all) => (i ? c.at - all[i - 1].at : 0)).slice(1);
    assert.ok(gaps.every((g) => g >= 15), `asked again without waiting: gaps ${gaps.join(', ')} ms`);
    tg.userSays('after');
    await tg.waitFor(() => seen.length === 1, 'the message after the odd answers');
    await p.stop();
    assert.strictEqual(problems.length, 6, problems.map((e) => e.message).join(' | '));
    for (const e of problems) assert.match(e.message, /^Telegram answered getUpdates with something that is not a list of updates \((string|object)\)/);
    const waits = states.filter((s) => s.state === 'reconnecting');
    assert.strictEqual(waits.length, 6);
    assert.ok(waits.every((s) => (s.retryInMs ?? 0) >= 20 && /not a list of updates/.test(s.failure?.description ?? '')));
  });

  describe('hand-off before confirming (decision 0160)', () => {
    /** A hand-off the test settles itself. */
    function deferred() {
      let settle!: (taken: boolean) => void;
      const promise = new Promise<boolean>((r) => (settle = r));
      return { promise, settle };
    }
    const offsetKey = () => `offset:${tg.bot.id}`;
    const confirmedPast = (updateId: number) => tg.calls.some((c) => c.method === 'getUpdates' && Number(c.params.offset) > updateId);

    it('saves the offset and asks for the next batch only after the update was handed off', async () => {
      const kv = new MemoryKeyValueStore();
      const seen: any[] = [];
      const hand = deferred();
      const p = poller(kv, seen, [], [], (u) => {
        seen.push(u);
        return hand.promise;
      });
      p.start();
      const a = tg.userSays('a');
      await tg.waitFor(() => seen.length === 1, 'a handed to the flow');
      // Long enough for the old behaviour (save, then poll again) to show; the test waits, not the code.
      await new Promise((r) => setTimeout(r, 150));
      assert.strictEqual(await kv.get(offsetKey()), undefined, 'offset saved before the hand-off');
      assert.strictEqual(confirmedPast(a.update_id), false, 'update confirmed to Telegram before the hand-off');
      assert.strictEqual(tg.pending(), 1, 'Telegram still holds the update');
      hand.settle(true);
      await tg.waitFor(() => confirmedPast(a.update_id), 'the update confirmed after the hand-off');
      assert.strictEqual(await kv.get(offsetKey()), a.update_id + 1);
      await p.stop();
    });

    it('stop() mid-batch saves the offset at the first update not handed off; a new poller gets it and the rest again', async () => {
      const kv = new MemoryKeyValueStore();
      const a = tg.userSays('a');
      const b = tg.userSays('b');
      tg.userSays('c');
      const seen: string[] = [];
      const p = poller(kv, [], [], [], (u) => {
        seen.push(u.message.text);
        if (u.message.text === 'b') return new Promise<boolean>(() => undefined); // on a wire when stopped
        return Promise.resolve(true);
      });
      p.start();
      await tg.waitFor(() => seen.length === 3, 'one batch of three');
      await p.stop();
      assert.deepStrictEqual(seen, ['a', 'b', 'c']);
      assert.strictEqual(await kv.get(offsetKey()), b.update_id, 'offset must stop before b');
      assert.ok(a.update_id < b.update_id);
      const again: string[] = [];
      const p2 = poller(kv, [], [], [], (u) => void again.push(u.message.text));
      p2.start();
      await tg.waitFor(() => again.length === 2, 'b and c delivered again');
      await p2.stop();
      assert.deepStrictEqual(again, ['b', 'c'], 'a was confirmed, b and c come again');
    });

    it('an update not taken (false) is asked for again at once, then confirmed', async () => {
      const kv = new MemoryKeyValueStore();
      const seen: string[] = [];
      const p = poller(kv, [], [], [], (u) => {
        seen.push(u.message.text);
        return Promise.resolve(seen.length > 1); // the first delivery is refused (a closing node)
      });
      p.start();
      const x = tg.userSays('x');
      await tg.waitFor(() => confirmedPast(x.update_id), 'x confirmed in the end');
      await p.stop();
      assert.deepStrictEqual(seen, ['x', 'x']);
      assert.strictEqual(await kv.get(offsetKey()), x.update_id + 1);
    });

    it('a hand-off nobody makes times out: the update counts as handled and polling goes on', async () => {
      const kv = new MemoryKeyValueStore();
      const seen: string[] = [];
      const p = poller(kv, [], [], [], (u) => {
        seen.push(u.message.text);
        return expectHandoff(newHandoffId(), 30).then((o) => o !== 'cancelled');
      });
      p.start();
      tg.userSays('first');
      await tg.waitFor(() => seen.length === 1, 'first');
      const second = tg.userSays('second');
      await tg.waitFor(() => confirmedPast(second.update_id), 'second confirmed after its timeout');
      await p.stop();
      assert.deepStrictEqual(seen, ['first', 'second']);
      assert.strictEqual(await kv.get(offsetKey()), second.update_id + 1);
      assert.strictEqual(pendingHandoffs(), 0);
    });

    it('a real hand-off through src/handoff confirms without waiting for the bound', async () => {
      const kv = new MemoryKeyValueStore();
      const p = poller(kv, [], [], [], () => {
        const id = newHandoffId();
        const outcome = expectHandoff(id, 60_000); // the test would time out if this bound were used
        setImmediate(() => handedOff(id)); // the session node, a moment later
        return outcome.then((o) => o === 'handed');
      });
      p.start();
      const m = tg.userSays('m');
      await tg.waitFor(() => confirmedPast(m.update_id), 'm confirmed', 5000);
      await p.stop();
      assert.strictEqual(await kv.get(offsetKey()), m.update_id + 1);
    });
  });
});
