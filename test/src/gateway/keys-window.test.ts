import assert from 'assert';
import { historyWindow, sessionKey, estimateTokens, type HistoryEntry } from '../../../src/gateway';
import { chatOf } from '../../fakes/gateway-worker';

describe('gateway session keys', () => {
  it('per-channel-peer: the same person on two channels has two sessions', () => {
    assert.strictEqual(sessionKey(chatOf('42')), 'telegram:bot1:dm:42');
    assert.strictEqual(sessionKey(chatOf('42', { channel: 'discord', account: 'd1' })), 'discord:d1:dm:42');
  });

  it('groups: one session per group (and thread) by default, or per member', () => {
    const g = chatOf('7', { chatType: 'group', chatId: 'g1', threadId: 't9' });
    assert.strictEqual(sessionKey(g), 'telegram:bot1:group:g1:t9');
    assert.strictEqual(sessionKey(g, { threads: false }), 'telegram:bot1:group:g1');
    assert.strictEqual(sessionKey(g, { groupScope: 'per-member' }), 'telegram:bot1:group:g1:t9:member:7');
  });

  it('per-account and templates', () => {
    assert.strictEqual(sessionKey(chatOf('1'), { scheme: 'per-account' }), 'telegram:bot1:main');
    assert.strictEqual(sessionKey(chatOf('1'), { scheme: 'template', template: '{channel}/{chatId}' }), 'telegram/1');
    assert.throws(() => sessionKey(chatOf('1'), { scheme: 'template', template: '{nope}' }), /unknown field\(s\) \{nope\}/);
  });
});

describe('gateway history window', () => {
  const h = (n: number): HistoryEntry[] =>
    Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` }) as HistoryEntry);

  it('bounds by message count, the current turn last', () => {
    const w = historyWindow(h(10), [{ role: 'user', content: 'now' }], { maxMessages: 5 });
    assert.deepStrictEqual(w.map((e) => e.content), ['m6', 'm7', 'm8', 'm9', 'now']);
  });

  it('bounds by the token budget and never opens on an assistant entry', () => {
    const long: HistoryEntry[] = [
      { role: 'user', content: 'x'.repeat(400) },
      { role: 'assistant', content: 'y'.repeat(40) },
      { role: 'user', content: 'short' },
      { role: 'assistant', content: 'ok' },
    ];
    const cur: HistoryEntry[] = [{ role: 'user', content: 'now' }];
    const budget = estimateTokens(long[1]) + estimateTokens(long[2]) + estimateTokens(long[3]) + estimateTokens(cur[0]);
    const w = historyWindow(long, cur, { maxTokens: budget });
    assert.deepStrictEqual(w.map((e) => e.content), ['short', 'ok', 'now']);
  });

  it('keeps the current entries even beyond the budget', () => {
    const cur: HistoryEntry[] = [{ role: 'user', content: 'z'.repeat(1000) }];
    assert.deepStrictEqual(historyWindow(h(4), cur, { maxTokens: 10 }), cur);
  });
});
