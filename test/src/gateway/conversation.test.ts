import assert from 'assert';
import crypto from 'crypto';
import { mkdtemp, rm } from 'fs/promises';
import os from 'os';
import path from 'path';
import {
  FileSessionStore,
  Gateway,
  MemorySessionStore,
  SUMMARY_HEADER,
  foldCount,
  groupContextEntry,
  groupContextOf,
  parseIdentityLinks,
  type GatewayOptions,
  type HistoryEntry,
  type SessionStore,
  type Turn,
} from '../../../src/gateway';
import { RedisSessionStore } from '../../../src/gateway/redis-store';
import { clearSteer, liveSteers, pushSteer, takeSteer } from '../../../src/turn-steering';
import { chatOf } from '../../fakes/gateway-worker';
import { dropPrefix } from '../../fakes/gateway-redis-cluster';
import { canConnect, needService } from '../../support/services';

/**
 * Where one test keeps its stores: `fresh()` makes a store of the backend, `durable()` one
 * that a later `durable()` of the same test opens again (a restart), `cleanup()` removes it.
 */
interface Place {
  fresh(): SessionStore;
  durable(): SessionStore;
  cleanup(): Promise<void>;
}

/** A store family the compaction and steer tests run against (the same tests, not copies). */
interface Backend {
  name: string;
  /** Skips the suite (or fails it with CI=true) when the backend's service is missing. */
  need(ctx: Mocha.Context): Promise<void>;
  place(dir: string): Place;
}

const REDIS_URL = 'redis://127.0.0.1:6379';
const backends: Backend[] = [
  {
    name: 'memory/file store',
    need: async () => undefined,
    place: (dir) => ({ fresh: () => new MemorySessionStore(), durable: () => new FileSessionStore(dir), cleanup: async () => undefined }),
  },
  {
    name: 'redis store',
    need: async (ctx) => needService(ctx, 'conversation management on redis', await canConnect(6379), 'no Redis on 127.0.0.1:6379 (start redis-server)'),
    place: () => {
      // A key prefix of its own per test, dropped afterwards; "restart" = a new store on it.
      const prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
      const make = () => new RedisSessionStore({ url: REDIS_URL, prefix });
      return { fresh: make, durable: make, cleanup: () => dropPrefix(REDIS_URL, prefix) };
    },
  },
];

/** Collects turns; answers them when told. */
function turns(g: Gateway) {
  const got: Turn[] = [];
  const waiters: ((t: Turn) => void)[] = [];
  g.on('turn', (t) => (waiters.length ? waiters.shift()!(t) : got.push(t)));
  return {
    next(ms = 3000): Promise<Turn> {
      if (got.length) return Promise.resolve(got.shift()!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no turn')), ms);
        waiters.push((t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
    },
    pending: got,
  };
}

describe('gateway conversation management', () => {
  let gw: Gateway | undefined;
  let dir: string;
  /** Set by the backend suites; cleaned up here, after the gateway (and its store) closed. */
  let place: Place | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'clawflow-conv-'));
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await place?.cleanup();
    place = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** The store of this test's backend (memory unless a backend suite set a place). */
  const newStore = (): SessionStore => place?.fresh() ?? new MemorySessionStore();
  /** A store a later call opens again (file / the same Redis prefix): a restart. */
  const durable = (): SessionStore => place?.durable() ?? new FileSessionStore(dir);

  /** Run `body` (a group of tests) once per backend, each test with a place of its own. */
  function perBackend(title: string, body: () => void): void {
    for (const backend of backends) {
      describe(`${title} (${backend.name})`, function () {
        before(async function () {
          await backend.need(this);
        });
        beforeEach(() => {
          place = backend.place(dir);
        });
        body();
      });
    }
  }

  async function open(opts: Partial<GatewayOptions> = {}, store: SessionStore = newStore()): Promise<Gateway> {
    gw = new Gateway({ store, ...opts });
    await gw.start();
    return gw;
  }

  /** Run `n` question/answer turns in session `peer`, each about 100 tokens long. */
  async function chatTurns(g: Gateway, t: ReturnType<typeof turns>, n: number, peer = 'alice', from = 0): Promise<Turn[]> {
    const out: Turn[] = [];
    for (let i = from; i < from + n; i++) {
      await g.submit(chatOf(peer, { text: `q${i} ${'x'.repeat(400)}` }));
      const turn = await t.next();
      out.push(turn);
      assert.strictEqual(await g.endTurn(turn, { reply: `a${i}` }), 'ended');
    }
    return out;
  }

  perBackend('history compaction', () => {
    it('summarises older turns when the window overflows, keeps the last turns verbatim and the full transcript', async () => {
      const calls: { entries: HistoryEntry[]; previous?: string }[] = [];
      const compactions: unknown[] = [];
      const g = await open({
        window: { maxMessages: 40, maxTokens: 600 },
        compaction: {
          keepTurns: 2,
          summarise: async (entries, o) => {
            calls.push({ entries, previous: o.previous });
            return `summary #${calls.length} of ${entries.length}`;
          },
        },
      });
      g.on('compaction', (c) => compactions.push(c));
      const t = turns(g);
      const done = await chatTurns(g, t, 6);
      // ~105 tokens per question: 6 turns do not fit 600 tokens, so a later turn compacted.
      const compacted = done.find((x) => x.compacted);
      assert.ok(compacted, 'no turn was compacted');
      assert.strictEqual(calls.length, 1);
      assert.ok(calls[0].entries.every((e) => e.content.startsWith('q') || e.content.startsWith('a')));
      const w = compacted.history;
      assert.ok(w[0].content.startsWith(SUMMARY_HEADER));
      assert.match(w[0].content, /summary #1/);
      // kept verbatim: the last 2 turns before the new one... the new user entry is last
      assert.strictEqual(w[w.length - 1].content, compacted.text);
      assert.deepStrictEqual(compactions, [{ key: compacted.key, entries: compacted.compacted!.entries }]);
      // the next turn reuses the summary without a new call
      const [after] = await chatTurns(g, t, 1, 'alice', 6);
      assert.ok(after.history[0].content.includes('summary #1'));
      assert.strictEqual(after.compacted, undefined);
      // the transcript keeps everything
      const hist = await g.history(compacted.key);
      assert.strictEqual(hist.length, 14);
    });

    it('falls back to truncation with a warning when the summary fails; the turn is not lost', async () => {
      const g = await open({
        window: { maxMessages: 40, maxTokens: 500 },
        compaction: { keepTurns: 1, summarise: async () => Promise.reject(new Error('provider down')) },
      });
      const errors: string[] = [];
      g.on('compaction', (c) => c.error && errors.push(c.error));
      const t = turns(g);
      const done = await chatTurns(g, t, 5);
      assert.ok(errors.length >= 1);
      assert.match(errors[0], /provider down/);
      const last = done[4];
      assert.strictEqual(last.compacted, undefined);
      assert.ok(!last.history[0].content.startsWith(SUMMARY_HEADER));
      assert.strictEqual(last.history[last.history.length - 1].content, last.text);
      assert.ok(last.history.length < 9, 'the window was not truncated');
    });

    it('times out a hanging summariser and still runs the turn', async () => {
      const g = await open({
        window: { maxTokens: 300 },
        compaction: { keepTurns: 1, timeoutMs: 50, summarise: (_e, o) => new Promise((_r, reject) => o.signal.addEventListener('abort', () => reject(o.signal.reason))) },
      });
      const errors: string[] = [];
      g.on('compaction', (c) => c.error && errors.push(c.error));
      const t = turns(g);
      await chatTurns(g, t, 4);
      assert.match(errors[0], /longer than/);
    });

    it('/compact forces a compaction; the summary survives a restart of the store, a reset voids it', async () => {
      const summarise = async (entries: HistoryEntry[]) => `folded ${entries.length}`;
      const opts = { compaction: { keepTurns: 1, summarise } };
      let g = await open(opts, durable());
      let t = turns(g);
      await chatTurns(g, t, 3);
      const r = await g.submit(chatOf('alice', { text: '/compact' }));
      assert.deepStrictEqual(r, { status: 'compacted', key: 'telegram:bot1:dm:alice', entries: 4 });
      await g.close();
      g = await open(opts, durable());
      t = turns(g);
      const [turn] = await chatTurns(g, t, 1, 'alice', 3);
      assert.strictEqual(turn.history[0].content, `${SUMMARY_HEADER}\nfolded 4`);
      assert.deepStrictEqual(turn.history.slice(1).map((h) => h.content.slice(0, 2)), ['q2', 'a2', 'q3']);
      assert.strictEqual((await g.history(turn.key)).length, 8);
      await g.submit(chatOf('alice', { text: '/reset' }));
      const [fresh] = await chatTurns(g, t, 1, 'alice', 4);
      assert.strictEqual(fresh.history.length, 1);
      const nothing = await g.submit(chatOf('alice', { text: '/compact' }));
      assert.deepStrictEqual(nothing, { status: 'compacted', key: turn.key, entries: 0 });
    });
  });

  perBackend('a message delivered again', () => {
    it('is accepted once, also after a restart; an edit or another message id is new', async () => {
      let g = await open({}, durable());
      let t = turns(g);
      const first = chatOf('alice', { text: 'hello', messageId: '501' });
      assert.strictEqual((await g.submit(first)).status, 'accepted');
      // The same update again at once (a channel retrying) and a burst of it in parallel.
      assert.strictEqual((await g.submit({ ...first })).status, 'duplicate');
      const burst = await Promise.all([g.submit(chatOf('alice', { text: 'b', messageId: '502' })), g.submit(chatOf('alice', { text: 'b', messageId: '502' }))]);
      assert.deepStrictEqual(burst.map((r) => r.status).sort(), ['accepted', 'duplicate']);
      const turn = await t.next();
      assert.strictEqual(turn.text, 'hello');
      // Killed before the channel confirmed: Telegram delivers all of it again to the next start.
      await g.close();
      g = await open({}, durable());
      t = turns(g);
      assert.strictEqual((await g.submit({ ...first })).status, 'duplicate');
      assert.strictEqual((await g.submit(chatOf('alice', { text: 'b', messageId: '502' }))).status, 'duplicate');
      const edited = await g.submit(chatOf('alice', { text: 'hello!', messageId: '501', edited: true, timestamp: 1_700_000_000_000 }));
      assert.strictEqual(edited.status, 'accepted', 'an edit is a new message');
      assert.strictEqual((await g.submit(chatOf('alice', { text: 'new', messageId: '503' }))).status, 'accepted');
      // Another chat may reuse a message id (ids are per chat on Telegram).
      assert.strictEqual((await g.submit(chatOf('bob', { text: 'hi', messageId: '501' }))).status, 'accepted');
      // Each accepted message runs exactly once: the interrupted one, then the rest in order.
      const texts: string[] = [];
      for (let i = 0; i < 5; i++) {
        const next = await t.next();
        texts.push(next.text);
        await g.endTurn(next, { reply: 'ok' });
      }
      assert.deepStrictEqual(texts.sort(), ['b', 'hello', 'hello!', 'hi', 'new']);
      await assert.rejects(t.next(300), /no turn/);
      assert.strictEqual(g.stats().duplicates, 2);
    });

    it('a message without a platform id is never taken for a duplicate', async () => {
      const g = await open();
      const t = turns(g);
      const bare = chatOf('carol', { text: 'x', messageId: undefined });
      assert.strictEqual((await g.submit(bare)).status, 'accepted');
      assert.strictEqual((await g.submit({ ...bare })).status, 'accepted');
      await g.endTurn(await t.next(), { reply: 'one' });
      await g.endTurn(await t.next(), { reply: 'two' });
    });
  });

  it('a message that is only media reaches the model as words; one with nothing at all is refused', async () => {
    const g = await open();
    const t = turns(g);
    await g.submit(chatOf('dora', { text: '', attachments: [{ kind: 'sticker', id: 'f1' }] }));
    const turn = await t.next();
    assert.strictEqual(turn.text, '[sticker]');
    assert.strictEqual(turn.history[turn.history.length - 1].content, '[sticker]');
    await g.endTurn(turn, { reply: 'nice sticker' });
    await assert.rejects(g.submit(chatOf('dora', { text: '  ', attachments: [] })), /no text .* and no attachments/);
  });

  it('foldCount keeps the last N user turns (a run of user entries is one turn)', () => {
    const h = (roles: string) => [...roles].map((r) => ({ role: r === 'u' ? 'user' : 'assistant', content: r }) as HistoryEntry);
    assert.strictEqual(foldCount(h('uauaua'), 2), 2);
    assert.strictEqual(foldCount(h('uauuaua'), 2), 2);
    assert.strictEqual(foldCount(h('uauuaua'), 3), 0);
    assert.strictEqual(foldCount(h('ua'), 4), 0);
  });

  describe('group context', () => {
    it('puts unmentioned group messages in the window as marked context, not in the history', async () => {
      const g = await open();
      const t = turns(g);
      const chat = chatOf('g1', { chatType: 'group', senderId: 'bob', senderName: 'Bob', text: '@bot what do you think?' });
      const ctx = groupContextOf({ groupContext: [{ senderId: 'ann', senderName: 'Ann', text: 'pizza tonight?', ts: 1 }, { senderId: 'cy', text: 'yes\nplease' }, { text: '' }, 7] });
      assert.strictEqual(ctx!.length, 2);
      await g.submit(chat, chat.text, { groupContext: ctx });
      const turn = await t.next();
      assert.deepStrictEqual(turn.history.map((h) => h.content), [
        '[group messages since your last reply]\nAnn: pizza tonight?\ncy: yes please',
        '@bot what do you think?',
      ]);
      await g.endTurn(turn, { reply: 'pizza!' });
      assert.deepStrictEqual((await g.history(turn.key)).map((h) => h.content), ['@bot what do you think?', 'pizza!']);
      assert.strictEqual(groupContextOf({}), undefined);
      assert.strictEqual(groupContextEntry([]), undefined);
    });
  });

  perBackend('queue mode steer', () => {
    it('steer: a message sent during a turn reaches it at a tool-call boundary and is committed with it', async () => {
      const g = await open({ mode: 'steer' });
      const t = turns(g);
      await g.submit(chatOf('alice', { text: 'book a table' }));
      const turn = await t.next();
      const r = await g.submit(chatOf('alice', { text: 'for 4 people' }));
      assert.strictEqual(r.status === 'accepted' && r.steered, true);
      // what the llm tool loop does at its next tool-call boundary
      assert.deepStrictEqual(takeSteer(turn.turnId), ['for 4 people']);
      assert.strictEqual(await g.endTurn(turn, { reply: 'booked for 4' }), 'ended');
      assert.deepStrictEqual((await g.history(turn.key)).map((h) => h.content), ['book a table', 'for 4 people', 'booked for 4']);
      assert.strictEqual(g.stats().waiting, 0);
      assert.strictEqual(liveSteers(), 0);
      await new Promise((r2) => setImmediate(r2));
      assert.strictEqual(t.pending.length, 0, 'the steered message ran again as a turn');
    });

    it('steer: a message the turn never read runs as the next turn', async () => {
      const g = await open({ mode: 'steer' });
      const t = turns(g);
      await g.submit(chatOf('alice', { text: 'hello' }));
      const turn = await t.next();
      await g.submit(chatOf('alice', { text: 'and another thing' }));
      await g.endTurn(turn, { reply: 'hi' });
      const next = await t.next();
      assert.strictEqual(next.text, 'and another thing');
      await g.endTurn(next, { reply: 'ok' });
      assert.deepStrictEqual((await g.history(turn.key)).map((h) => h.content), ['hello', 'hi', 'and another thing', 'ok']);
    });

    it('steer is durable: an absorbed message is not run again after a restart', async () => {
      let g = await open({ mode: 'steer' }, durable());
      let t = turns(g);
      await g.submit(chatOf('alice', { text: 'one' }));
      const turn = await t.next();
      await g.submit(chatOf('alice', { text: 'two' }));
      takeSteer(turn.turnId);
      await g.endTurn(turn, { reply: 'both' });
      await g.close();
      g = await open({ mode: 'steer' }, durable());
      t = turns(g);
      assert.strictEqual(g.stats().waiting, 0);
      assert.deepStrictEqual((await g.history(turn.key)).map((h) => h.content), ['one', 'two', 'both']);
    });

  });

  describe('queue modes', () => {
    it('debounce merges a burst of quick messages into one turn', async () => {
      const g = await open({ debounceMs: 40 });
      const t = turns(g);
      for (const text of ['so', 'I was thinking', 'about dinner']) await g.submit(chatOf('alice', { text }));
      const turn = await t.next();
      assert.strictEqual(turn.text, 'so\nI was thinking\nabout dinner');
      assert.strictEqual(turn.items.length, 3);
    });

    it('/queue sets a session its own mode when allowed, and it is kept in the store', async () => {
      const store = new MemorySessionStore();
      let g = await open({ allowQueueCommand: true }, store);
      const r = await g.submit(chatOf('alice', { text: '/queue collect' }));
      assert.deepStrictEqual(r, { status: 'queue_mode', key: 'telegram:bot1:dm:alice', mode: 'collect' });
      await g.close();
      g = await open({ allowQueueCommand: true }, store);
      const t = turns(g);
      await g.submit(chatOf('alice', { text: 'first' }));
      const first = await t.next();
      await g.submit(chatOf('alice', { text: 'a' }));
      await g.submit(chatOf('alice', { text: 'b' }));
      await g.endTurn(first, { reply: 'x' });
      assert.strictEqual((await t.next()).text, 'a\nb', 'collect mode did not apply');
      // not allowed: the text is an ordinary message
      await g.close();
      g = await open({}, new MemorySessionStore());
      const plain = await g.submit(chatOf('bob', { text: '/queue steer' }));
      assert.strictEqual(plain.status, 'accepted');
      clearSteer('none');
    });
  });

  describe('budgets and usage', () => {
    it('refuses over the daily message budget, tells the peer once, then drops silently; holds across a restart', async () => {
      const opts = { budgets: { peerMessages: 2 } };
      let g = await open(opts, new FileSessionStore(dir));
      let t = turns(g);
      for (const text of ['1', '2']) {
        await g.submit(chatOf('alice', { text }));
        await g.endTurn(await t.next(), { reply: 'ok' });
      }
      assert.deepStrictEqual(await g.submit(chatOf('alice', { text: '3' })), { status: 'rejected', key: 'telegram:bot1:dm:alice', reason: 'budget_exceeded', notify: true });
      await g.close();
      g = await open(opts, new FileSessionStore(dir));
      t = turns(g);
      const again = await g.submit(chatOf('alice', { text: '4' }));
      assert.strictEqual(again.status === 'rejected' && again.notify, false);
      assert.strictEqual(g.stats().budgetDropped, 1);
      // another peer has their own budget
      assert.strictEqual((await g.submit(chatOf('bob'))).status, 'accepted');
    });

    it('counts tokens per session and against the group budget', async () => {
      const g = await open({ budgets: { groupTokens: 100 } });
      const t = turns(g);
      const chat = (who: string) => chatOf('g1', { chatType: 'group', senderId: who, text: `hi from ${who}` });
      await g.submit(chat('ann'));
      const turn = await t.next();
      await g.endTurn(turn, { reply: 'hello', usage: { inputTokens: 90, outputTokens: 20, totalTokens: 110 } });
      assert.deepStrictEqual(await g.sessionUsage(turn.key), { messages: 0, tokens: 110, inputTokens: 90, outputTokens: 20 });
      assert.strictEqual(g.stats().tokens, 110);
      const r = await g.submit(chat('bob'));
      assert.deepStrictEqual(r, { status: 'rejected', key: turn.key, reason: 'budget_exceeded', notify: true });
    });
  });

  describe('identity links and the watchdog', () => {
    it('links identities of one person to one session (opt-in)', async () => {
      const links = parseIdentityLinks([{ person: 'ada', ids: 'telegram:1, discord:9' }]);
      const g = await open({ keys: { links } });
      assert.strictEqual(g.keyOf(chatOf('1')), 'person:ada');
      assert.strictEqual(g.keyOf(chatOf('9', { channel: 'discord' })), 'person:ada');
      assert.strictEqual(g.keyOf(chatOf('2')), 'telegram:bot1:dm:2');
      assert.throws(() => parseIdentityLinks([{ person: 'a', ids: 'telegram:1' }, { person: 'b', ids: 'telegram:1' }]), /both a and b/);
      assert.throws(() => parseIdentityLinks([{ person: 'a', ids: '123' }]), /channel:userId/);
    });

    it('reports an expired lease with the chat, so the user can be told', async () => {
      const g = await open({ leaseMs: 30 });
      const t = turns(g);
      const chat = chatOf('alice');
      await g.submit(chat);
      const turn = await t.next();
      const info = await new Promise<any>((resolve) => g.on('expired', resolve));
      assert.strictEqual(info.key, turn.key);
      assert.deepStrictEqual(info.chat, chat);
      assert.strictEqual(await g.endTurn(turn, { reply: 'late' }), 'stale');
    });
  });

  it('close clears debounce timers and steering state: nothing runs after it', async () => {
    const g = await open({ debounceMs: 20, mode: 'steer' });
    const t = turns(g);
    await g.submit(chatOf('alice', { text: 'one' }));
    const turn = await t.next();
    await g.submit(chatOf('alice', { text: 'two' })); // steered + a debounce timer
    await g.submit(chatOf('bob', { text: 'held' })); // waits for quiet
    assert.strictEqual(liveSteers(), 1);
    await g.close();
    assert.strictEqual(liveSteers(), 0);
    await new Promise((r) => setTimeout(r, 40));
    assert.strictEqual(t.pending.length, 0, 'a turn started after close');
    assert.strictEqual(await g.endTurn(turn, { reply: 'late' }), 'stale');
  });

  it('turn-steering: take marks taken, clear reports how many were read', () => {
    pushSteer('t1', 'a');
    pushSteer('t1', 'b');
    assert.deepStrictEqual(takeSteer('t1'), ['a', 'b']);
    pushSteer('t1', 'c');
    assert.deepStrictEqual(takeSteer('nobody'), []);
    assert.strictEqual(clearSteer('t1'), 2);
    assert.strictEqual(liveSteers(), 0);
  });
});
