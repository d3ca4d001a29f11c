import assert from 'assert';
import { Gateway, MemorySessionStore, type GatewayOptions, type SubmitResult } from '../../../src/gateway';
import { abortTurn, dropTurn, turnSignal } from '../../../src/turn-signals';
import { GatewaySlowLlm } from '../../fakes/gateway-slow-llm';
import { chatOf, nextEvent, startWorker } from '../../fakes/gateway-worker';

describe('gateway scheduler', () => {
  let fake: GatewaySlowLlm;
  let gw: Gateway | undefined;

  beforeEach(async () => {
    fake = await new GatewaySlowLlm().start();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await fake.close();
  });

  async function open(opts: Partial<GatewayOptions> = {}): Promise<Gateway> {
    gw = new Gateway({ store: new MemorySessionStore(), ...opts });
    await gw.start();
    return gw;
  }

  it('runs the turns of one session one at a time, in arrival order', async () => {
    const g = await open();
    const w = startWorker(g, fake.url);
    const texts = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const results = await Promise.all(texts.map((t) => g.submit(chatOf('alice', { text: t }))));
    assert.ok(results.every((r) => r.status === 'accepted'));
    await w.waitEnded(12);
    assert.strictEqual(fake.maxPerSession, 1, 'two turns of one session overlapped');
    const seen = fake.received.map((r) => r.messages[r.messages.length - 1].content);
    assert.deepStrictEqual(seen, texts);
    const hist = await g.history(results[0].key);
    assert.strictEqual(hist.length, 24);
    assert.deepStrictEqual(
      hist.filter((h) => h.role === 'assistant').map((h) => h.content),
      texts.map((t) => `echo: ${t}`),
    );
    // Each turn saw the previous turns as history, its own message last.
    const last = fake.received[11].messages;
    assert.strictEqual(last.length, 23);
    assert.strictEqual(last[21].content, 'echo: m10');
  });

  it('runs different sessions in parallel', async () => {
    const g = await open();
    fake.barrier = 3; // answers only once three requests are in flight at the same time
    const w = startWorker(g, fake.url);
    await Promise.all(['a', 'b', 'c'].map((p) => g.submit(chatOf(p))));
    await w.waitEnded(3);
    assert.strictEqual(fake.maxInFlight, 3);
  });

  it('keeps 200 messages from 50 sessions within the limit; accepted + busy == sent', async () => {
    const g = await open({ concurrency: 10, maxWaiting: 120, maxWaitingPerSession: 3 });
    fake.delayMs = 5;
    const w = startWorker(g, fake.url);
    const sent = Array.from({ length: 200 }, (_, i) => chatOf(`p${i % 50}`, { text: `t${i}` }));
    const results: SubmitResult[] = await Promise.all(sent.map((c) => g.submit(c)));
    const accepted = results.filter((r) => r.status === 'accepted').length;
    const busy = results.filter((r) => r.status === 'rejected').length;
    assert.strictEqual(accepted + busy, sent.length);
    assert.ok(busy > 0, 'the bounds were chosen so that some are refused');
    for (const r of results) if (r.status === 'rejected') assert.ok(['busy', 'session_busy'].includes(r.reason));
    await w.waitEnded(accepted);
    assert.ok(fake.maxInFlight <= 10, `in flight reached ${fake.maxInFlight}`);
    assert.ok(fake.maxInFlight >= 2);
    assert.strictEqual(fake.maxPerSession, 1);
    assert.strictEqual(w.records.length, accepted, 'every accepted message got exactly one turn');
    assert.ok(w.records.every((r) => r.outcome === 'ended'));
    assert.deepStrictEqual(g.stats(), { active: 0, waiting: 0, accepted, rejected: busy, expired: 0, duplicates: 0, tokens: 0, budgetDropped: 0 });
  });

  it('accepts all 200 messages from 50 sessions with the default bounds, never more than 10 at once', async () => {
    const g = await open();
    fake.delayMs = 2;
    const w = startWorker(g, fake.url);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => g.submit(chatOf(`p${i % 50}`, { text: `t${i}` }))),
    );
    // maxWaitingPerSession 20 and 4 per session: nobody is refused
    assert.strictEqual(results.filter((r) => r.status === 'accepted').length, 200);
    await w.waitEnded(200);
    assert.ok(fake.maxInFlight <= 10 && fake.maxInFlight >= 2, `max in flight ${fake.maxInFlight}`);
    // per session, the order of arrival holds
    for (let p = 0; p < 50; p++) {
      const seen = fake.received.filter((r) => r.key.endsWith(`:dm:p${p}`)).map((r) => r.messages.at(-1)!.content);
      assert.deepStrictEqual(seen, [0, 1, 2, 3].map((k) => `t${p + 50 * k}`));
    }
  });

  it('refuses a flooding peer with session_busy while others still get in', async () => {
    const g = await open({ maxWaitingPerSession: 3, concurrency: 1 });
    fake.hold = true;
    const w = startWorker(g, fake.url);
    const flood = await Promise.all(Array.from({ length: 10 }, (_, i) => g.submit(chatOf('flood', { text: `f${i}` }))));
    // one is running (claimed), three wait, the rest are refused
    await fake.waitForRequests(1);
    const other = await g.submit(chatOf('calm'));
    assert.strictEqual(other.status, 'accepted');
    const reasons = flood.filter((r) => r.status === 'rejected').map((r) => (r as { reason: string }).reason);
    assert.ok(reasons.length >= 6 && reasons.every((r) => r === 'session_busy'), JSON.stringify(reasons));
    fake.hold = false;
    fake.release();
    await w.waitEnded(flood.length - reasons.length + 1);
  });

  it('is fair: a session with a long queue does not hold back a newcomer', async () => {
    const g = await open({ concurrency: 1 });
    fake.hold = true;
    const w = startWorker(g, fake.url);
    for (let i = 0; i < 5; i++) await g.submit(chatOf('flood', { text: `f${i}` }));
    await fake.waitForRequests(1);
    await g.submit(chatOf('calm', { text: 'hello' }));
    fake.hold = false;
    fake.release();
    await w.waitEnded(6);
    assert.deepStrictEqual(
      w.records.map((r) => r.turn.text),
      ['f0', 'hello', 'f1', 'f2', 'f3', 'f4'],
    );
  });

  it('refuses with busy when the global backlog is full', async () => {
    const g = await open({ maxWaiting: 2, concurrency: 1 });
    fake.hold = true;
    startWorker(g, fake.url);
    const first = await g.submit(chatOf('a'));
    await fake.waitForRequests(1); // a runs, nothing waits
    const r = [await g.submit(chatOf('b')), await g.submit(chatOf('c')), await g.submit(chatOf('d'))];
    assert.strictEqual(first.status, 'accepted');
    assert.deepStrictEqual(r.map((x) => (x.status === 'rejected' ? x.reason : x.status)), ['accepted', 'accepted', 'busy']);
    assert.strictEqual(g.stats().waiting, 2);
  });

  it('collect mode merges the messages that arrived during a turn into one turn', async () => {
    const g = await open({ mode: 'collect' });
    fake.hold = true;
    const w = startWorker(g, fake.url);
    await g.submit(chatOf('a', { text: 'first' }));
    await fake.waitForRequests(1);
    for (const t of ['second', 'third', 'fourth']) await g.submit(chatOf('a', { text: t }));
    fake.hold = false;
    fake.release();
    await w.waitEnded(2);
    assert.strictEqual(w.records.length, 2);
    assert.strictEqual(w.records[1].turn.text, 'second\nthird\nfourth');
    assert.deepStrictEqual(
      w.records[1].turn.history.map((h) => h.content),
      ['first', 'echo: first', 'second', 'third', 'fourth'],
    );
    assert.strictEqual(w.records[1].turn.items.length, 3);
  });

  it('interrupt mode aborts the running turn and runs the new message', async () => {
    const g = await open({ mode: 'interrupt' });
    fake.hold = true;
    const w = startWorker(g, fake.url);
    await g.submit(chatOf('a', { text: 'long question' }));
    await fake.waitForRequests(1);
    const firstTurn = w.records[0].turn;
    const second = nextEvent(g, 'turn');
    await g.submit(chatOf('a', { text: 'never mind' }));
    assert.ok(turnSignal(firstTurn.turnId).aborted, 'the running turn was aborted');
    await second;
    await fake.waitForRequests(2);
    fake.hold = false;
    fake.release();
    await w.waitEnded(2);
    assert.strictEqual(w.records[0].outcome, 'stale', 'the aborted turn cannot end the new one');
    assert.ok(fake.aborted >= 1, 'the HTTP request of the aborted turn was cancelled');
    assert.strictEqual(w.records[1].outcome, 'ended');
    const hist = await g.history(firstTurn.key);
    assert.deepStrictEqual(hist.map((h) => `${h.role}:${h.content}`), [
      'user:long question',
      'user:never mind',
      'assistant:echo: never mind',
    ]);
  });

  it('the lease timeout frees a stuck session and warns with its key; a late end is fenced off', async () => {
    const g = await open({ leaseMs: 80 });
    const w = startWorker(g, fake.url, (t) => t.text === 'stuck');
    const expired = nextEvent<{ key: string; turnId: string }>(g, 'expired');
    const r1 = await g.submit(chatOf('a', { text: 'stuck' }));
    const r2 = await g.submit(chatOf('a', { text: 'next' }));
    const e = await expired;
    assert.strictEqual(e.key, r1.key);
    assert.strictEqual(e.turnId, w.records[0].turn.turnId);
    await w.waitEnded(1);
    assert.strictEqual(w.records[1].turn.text, 'next');
    assert.strictEqual(w.records[1].turn.key, r2.key);
    // The flow of the stuck turn ends after all: nothing changes.
    assert.strictEqual(await g.endTurn(w.records[0].turn, { reply: 'late reply' }), 'stale');
    const hist = await g.history(r1.key);
    assert.deepStrictEqual(hist.map((h) => h.content), ['stuck', 'next', 'echo: next']);
    assert.strictEqual(g.stats().expired, 1);
    assert.strictEqual(g.stats().active, 0);
  });

  it('a reset command clears history and context, aborts the running turn, keeps the waiting messages', async () => {
    const g = await open();
    const w = startWorker(g, fake.url);
    const r = await g.submit(chatOf('a', { text: 'remember 42' }));
    await w.waitEnded(1);
    fake.hold = true;
    await g.submit(chatOf('a', { text: 'slow one' }));
    await fake.waitForRequests(2);
    await g.submit(chatOf('a', { text: 'after reset' }));
    const res = await g.submit(chatOf('a', { text: '/reset' }));
    assert.strictEqual(res.status, 'reset');
    assert.ok(turnSignal(w.records[1].turn.turnId).aborted);
    fake.hold = false;
    fake.release();
    await w.waitEnded(3);
    assert.strictEqual(w.records[1].outcome, 'stale');
    assert.deepStrictEqual(w.records[2].turn.history.map((h) => h.content), ['after reset']);
    assert.deepStrictEqual((await g.history(r.key)).map((h) => h.content), ['after reset', 'echo: after reset']);
    // also as a parsed command, with a bot suffix, and a custom word
    assert.strictEqual((await g.submit(chatOf('a', { text: '/new@my_bot' }))).status, 'reset');
    assert.strictEqual((await g.submit(chatOf('a', { text: 'x', command: { name: 'new', args: '' } }))).status, 'reset');
    assert.strictEqual((await g.submit(chatOf('a', { text: '/newish' }))).status, 'accepted');
  });

  it('keeps context variables the turn hands back', async () => {
    const g = await open();
    const seen: Record<string, unknown>[] = [];
    g.on('turn', (t) => {
      seen.push(t.context);
      void g.endTurn(t, { reply: 'ok', context: { n: ((t.context.n as number) ?? 0) + 1 } });
    });
    for (let i = 0; i < 3; i++) await g.submit(chatOf('a'));
    await new Promise<void>((resolve) => g.on('change', (s) => s.active === 0 && s.waiting === 0 && resolve()));
    assert.deepStrictEqual(seen, [{}, { n: 1 }, { n: 2 }]);
    assert.deepStrictEqual((await g.session('telegram:bot1:dm:a'))?.context, { n: 3 });
  });

  it('rejects bad input with an error that says what is missing, and unknown channels', async () => {
    const g = await open({ channels: ['telegram'] });
    await assert.rejects(g.submit(undefined, 'x'), /msg\.chat is missing/);
    await assert.rejects(g.submit({ channel: 'telegram', chatId: '1' }, 'x'), /missing msg\.chat\.account, msg\.chat\.chatType, msg\.chat\.senderId/);
    await assert.rejects(g.submit(chatOf('a', { channel: 'irc' })), /"irc" is not one this session gateway serves/);
    assert.deepStrictEqual(g.stats().accepted, 0);
  });

  it('close clears lease timers, aborts running turns and refuses new messages', async () => {
    const g = await open({ leaseMs: 30 });
    let expiredCalls = 0;
    g.on('expired', () => expiredCalls++);
    const turn = nextEvent<{ turnId: string; key: string; fence: number }>(g, 'turn');
    await g.submit(chatOf('a'));
    const t = await turn;
    await g.close();
    assert.ok(turnSignal(t.turnId).aborted);
    await new Promise((r) => setTimeout(r, 60)); // longer than the lease: the timer must be gone
    assert.strictEqual(expiredCalls, 0);
    assert.deepStrictEqual(await g.submit(chatOf('a')), { status: 'rejected', key: t.key, reason: 'closed' });
    assert.strictEqual(await g.endTurn(t), 'stale');
    gw = undefined;
  });

  it('a turn its runner dropped (the llm node restarted) is handed out again, same id, fresh signal; others are not', async () => {
    const g = await open({ concurrency: 2 });
    const turns: { turnId: string; key: string; fence: number }[] = [];
    g.on('turn', (t) => turns.push(t));
    await g.submit(chatOf('alice', { text: 'a' }));
    await g.submit(chatOf('bob', { text: 'b' }));
    while (turns.length < 2) await new Promise((r) => setTimeout(r, 5));
    const [dropped, kept] = turns;
    abortTurn(dropped.turnId, 'node closed'); // what the closing llm node's abort left behind
    dropTurn(dropped.turnId);
    assert.strictEqual(g.redispatchDropped(), 1);
    assert.strictEqual(turns.length, 3);
    assert.strictEqual(turns[2].turnId, dropped.turnId);
    assert.strictEqual(turnSignal(dropped.turnId).aborted, false, 'the new run gets a live signal');
    assert.strictEqual(g.redispatchDropped(), 0, 'handed out once');
    assert.strictEqual(await g.endTurn(turns[2], { reply: 'ok' }), 'ended');
    assert.strictEqual(await g.endTurn(kept, { reply: 'ok' }), 'ended');
  });
});
