import assert from 'node:assert/strict';
import {
  GroupContextBuffer,
  MAX_PATTERN_LENGTH,
  MAX_TEXT_TESTED,
  parseMentionPatterns,
  RouteFilter,
  type Accepted,
  type Rejected,
  type RouteFilterOptions,
} from '../../../src/routing';
import type { ChatEnvelope } from '../../../src/envelope';
import { MemoryKeyValueStore } from '../../../src/store/kv';
import { DC_BOT, discordGuild, fakeClock, TG_BOT, telegramDm, telegramGroup } from './envelopes';

function filter(opts: Partial<RouteFilterOptions> = {}) {
  const clock = fakeClock();
  const f = new RouteFilter({ store: new MemoryKeyValueStore(), now: clock.now, groupPolicy: 'open', rateLimit: 0, ...opts });
  return { f, clock };
}

const TG_GROUP = '-1001234567890';

describe('routing: group context (unmentioned chatter handed on with the next mention)', () => {
  it('telegram: chatter is kept and attached, oldest first, to the next mention; then it is gone', async () => {
    const { f, clock } = filter();
    assert.equal((await f.decide(telegramGroup('11', { text: 'shall we meet at 5?' }))).reason, 'not_mentioned');
    clock.advance(1000);
    assert.equal((await f.decide(telegramGroup('12', { text: 'ok for me' }))).reason, 'not_mentioned');
    const d = (await f.decide(telegramGroup('11', { mentioned: true, text: '@bot what did Bob say?' }))) as Accepted;
    assert.equal(d.accept, true);
    assert.equal(d.mention, 'platform');
    assert.deepEqual(d.groupContext, [
      { senderId: '11', senderName: 'tg user 11', text: 'shall we meet at 5?', ts: 1_700_000_000_000 },
      { senderId: '12', senderName: 'tg user 12', text: 'ok for me', ts: 1_700_000_000_000 },
    ]);
    // Used once: the next mention carries only what was said since.
    const again = (await f.decide(telegramGroup('12', { mentioned: true }))) as Accepted;
    assert.equal(again.groupContext, undefined);
  });

  it('discord: per channel (and thread) of one guild; a reply to the bot also takes the context', async () => {
    const { f } = filter();
    await f.decide(discordGuild('21', { text: 'in general' }));
    await f.decide(discordGuild('22', { channelId: '1200000000000000002', text: 'in another channel' }));
    await f.decide(discordGuild('23', { threadId: '1400', text: 'in a thread' }));
    const d = (await f.decide(discordGuild('24', { replyToBot: true, text: 'right?' }))) as Accepted;
    assert.equal(d.mention, 'reply');
    assert.deepEqual(d.groupContext?.map((e) => e.text), ['in general']);
    const t = (await f.decide(discordGuild('24', { threadId: '1400', mentioned: true }))) as Accepted;
    assert.deepEqual(t.groupContext?.map((e) => [e.senderId, e.text]), [['23', 'in a thread']]);
    assert.equal(f.groupContext.trackedGroups, 1, 'only the other channel is still kept');
  });

  it('is bounded per group (newest kept) and configurable; 0 turns it off', async () => {
    const { f } = filter({ groupContextSize: 3 });
    for (let i = 1; i <= 5; i++) await f.decide(telegramGroup('1', { text: `m${i}` }));
    const d = (await f.decide(telegramGroup('1', { mentioned: true }))) as Accepted;
    assert.deepEqual(d.groupContext?.map((e) => e.text), ['m3', 'm4', 'm5']);

    const off = filter({ groupContextSize: 0 }).f;
    await off.decide(telegramGroup('1', { text: 'ignored' }));
    assert.equal(off.groupContext.trackedGroups, 0);
    assert.equal(((await off.decide(telegramGroup('1', { mentioned: true }))) as Accepted).groupContext, undefined);
  });

  it('defaults to 20 per group', async () => {
    const { f } = filter();
    for (let i = 1; i <= 25; i++) await f.decide(telegramGroup('1', { text: `m${i}` }));
    const d = (await f.decide(telegramGroup('1', { mentioned: true }))) as Accepted;
    assert.equal(d.groupContext?.length, 20);
    assert.equal(d.groupContext?.[0].text, 'm6');
  });

  it('expires by age (injected clock), entry by entry', async () => {
    const { f, clock } = filter({ groupContextMaxAgeMs: 60_000 });
    await f.decide(telegramGroup('1', { text: 'old' }));
    clock.advance(45_000);
    await f.decide(telegramGroup('2', { text: 'newer' }));
    clock.advance(20_000);
    const d = (await f.decide(telegramGroup('3', { mentioned: true }))) as Accepted;
    assert.deepEqual(d.groupContext?.map((e) => e.text), ['newer']);
    await f.decide(telegramGroup('1', { text: 'soon stale' }));
    clock.advance(60_000);
    assert.equal(((await f.decide(telegramGroup('3', { mentioned: true }))) as Accepted).groupContext, undefined);
  });

  it('is never kept for groups the bot does not serve, and mentioned-but-rejected messages keep it waiting', async () => {
    const { f } = filter({ groupPolicy: 'allowlist', groupAllow: `telegram:${TG_GROUP}`, rateLimit: 1, owners: 'telegram:1' });
    await f.decide(telegramGroup('5', { chatId: '-1009', text: 'secret elsewhere' }));
    assert.equal(f.groupContext.trackedGroups, 0);
    await f.decide(telegramGroup('5', { text: 'context' }));
    // An owner's /pair command and a rate-limited mention do not use up the context.
    assert.equal((await f.decide(telegramGroup('1', { mentioned: true, command: { name: 'pair', args: 'list' } }))).reason, 'pairing_command');
    const taken = (await f.decide(telegramGroup('7', { mentioned: true }))) as Accepted;
    assert.deepEqual(taken.groupContext?.map((e) => e.text), ['context']);
    const limited = await f.decide(telegramGroup('7', { mentioned: true }));
    assert.equal(limited.reason, 'rate_limited');
    assert.equal(f.groupContext.trackedGroups, 0, 'the accepted mention took it');
  });

  it('buffer: bounded number of groups (least recently active dropped), long texts cut, empty texts skipped', () => {
    const b = new GroupContextBuffer({ maxMessages: 5, maxAgeMs: 60_000, maxGroups: 2, maxChars: 10 });
    const g = (chatId: string, text: string): ChatEnvelope => telegramGroup('1', { chatId, text });
    b.add(g('-1', 'a'), 0);
    b.add(g('-2', 'b'), 1);
    b.add(g('-1', 'c'), 2);
    b.add(g('-3', 'd'), 3); // drops -2, the least recently active
    assert.equal(b.trackedGroups, 2);
    assert.equal(b.size(g('-2', ''), 4), 0);
    assert.deepEqual(b.take(g('-1', ''), 4).map((e) => e.text), ['a', 'c']);
    b.add(g('-3', 'x'.repeat(50)), 5);
    b.add(g('-3', '   '), 6);
    assert.deepEqual(b.take(g('-3', ''), 7).map((e) => e.text), ['d', `${'x'.repeat(10)}…`]);
  });
});

describe('routing: pattern mentions', () => {
  it('a pattern (case-insensitive) makes a group message count as mentioned', async () => {
    const { f } = filter({ mentionPatterns: '\\bclawd?\\b\nhey (bot|assistant)' });
    assert.equal(f.mentionPatterns.size, 2);
    const d = (await f.decide(telegramGroup('1', { text: 'CLAW, what time is it?' }))) as Accepted;
    assert.equal(d.reason, 'group');
    assert.equal(d.mention, 'pattern');
    assert.equal((await f.decide(discordGuild('2', { text: 'Hey Assistant!' }))).reason, 'group');
    assert.equal((await f.decide(discordGuild('2', { text: 'clawing at the door' }))).reason, 'not_mentioned');
  });

  it('an array of patterns works too; DMs never need one', async () => {
    const { f } = filter({ mentionPatterns: ['^!ask\\b'], dmPolicy: 'open' });
    assert.equal((await f.decide(telegramGroup('1', { text: '!ask the weather' }))).reason, 'group');
    assert.equal((await f.decide(telegramDm('1', 'anything'))).reason, 'open');
  });

  it('only the first part of a long text is tested', async () => {
    const { f } = filter({ mentionPatterns: 'claw' });
    const late = `${'a'.repeat(MAX_TEXT_TESTED)} claw`;
    assert.equal((await f.decide(telegramGroup('1', { text: late }))).reason, 'not_mentioned');
    assert.equal((await f.decide(telegramGroup('1', { text: `claw ${'a'.repeat(MAX_TEXT_TESTED)}` }))).reason, 'group');
  });

  it('invalid, too long or catastrophic patterns are refused with one error naming each', () => {
    assert.throws(() => filter({ mentionPatterns: 'ok\n(unclosed' }), /mention patterns: "\(unclosed" is not a valid regular expression/);
    assert.throws(() => filter({ mentionPatterns: 'x'.repeat(MAX_PATTERN_LENGTH + 1) }), new RegExp(`is longer than ${MAX_PATTERN_LENGTH} characters`));
    assert.throws(() => parseMentionPatterns('(a+)+$\n(\\w*\\s)*x'), (err: Error) => {
      assert.match(err.message, /"\(a\+\)\+\$" repeats a group that itself repeats/);
      assert.match(err.message, /"\(\\\\w\*\\\\s\)\*x" repeats a group/);
      return true;
    });
    assert.throws(() => parseMentionPatterns(Array.from({ length: 21 }, (_, i) => `p${i}`)), /at most 20 patterns, got 21/);
    // Ordinary alternations and optional groups are fine.
    assert.equal(parseMentionPatterns('(hey|hi) claw\n(?:mr\\.? )?bot\\b').size, 2);
  });
});

describe('routing: bot loop protection', () => {
  const otherBot = (n: number, extra: { chatId?: string } = {}) => {
    const env = telegramGroup('8000000002', { mentioned: true, text: `reply ${n}`, ...extra });
    env.senderIsBot = true;
    env.senderName = 'other bot';
    return env;
  };

  it('a two-bot loop is cut at the limit, warned once per window, and resumes after the window', async () => {
    const { f, clock } = filter({ botLoopLimit: 3 });
    const reasons: string[] = [];
    const warns: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const d = await f.decide(otherBot(i));
      reasons.push(d.reason);
      if (!d.accept && d.botLoop) warns.push(d.botLoop.warn);
    }
    assert.deepEqual(reasons, ['group', 'group', 'group', 'bot_loop', 'bot_loop', 'bot_loop']);
    assert.deepEqual(warns, [true, false, false]);
    const cut = (await f.decide(otherBot(7))) as Rejected;
    assert.deepEqual(cut.botLoop?.pair, { channel: 'telegram', account: TG_BOT, chatId: TG_GROUP, botId: '8000000002', botName: 'other bot' });
    assert.equal(cut.reply, undefined, 'no reply: a reply would feed the loop');
    clock.advance(60_000);
    assert.equal((await f.decide(otherBot(8))).reason, 'group');
  });

  it('defaults to 20 per minute per pair; other groups, humans and our other accounts are not affected', async () => {
    const { f } = filter();
    for (let i = 0; i < 20; i++) assert.equal((await f.decide(otherBot(i))).reason, 'group');
    assert.equal((await f.decide(otherBot(20))).reason, 'bot_loop');
    assert.equal((await f.decide(otherBot(21, { chatId: '-1009' }))).reason, 'group');
    assert.equal((await f.decide(telegramGroup('5', { mentioned: true }))).reason, 'group');
    const onDiscord = discordGuild('8000000002', { mentioned: true });
    onDiscord.senderIsBot = true;
    assert.equal((await f.decide(onDiscord)).reason, 'group');
    const viaOtherAccount = otherBot(22);
    viaOtherAccount.account = DC_BOT;
    assert.equal((await f.decide(viaOtherAccount)).reason, 'group');
  });

  it('bots are counted by the loop guard, not by flood control (whose reply would feed the loop); 0 turns it off', async () => {
    const { f } = filter({ rateLimit: 2, botLoopLimit: 5 });
    const reasons: string[] = [];
    for (let i = 0; i < 6; i++) reasons.push((await f.decide(otherBot(i))).reason);
    assert.deepEqual(reasons, ['group', 'group', 'group', 'group', 'group', 'bot_loop']);

    const off = filter({ rateLimit: 0, botLoopLimit: 0 }).f;
    for (let i = 0; i < 30; i++) assert.equal((await off.decide(otherBot(i))).reason, 'group');
    // Off: flood control applies to bots like to anyone.
    const floodOnly = filter({ rateLimit: 2, botLoopLimit: 0 }).f;
    const r: string[] = [];
    for (let i = 0; i < 3; i++) r.push((await floodOnly.decide(otherBot(i))).reason);
    assert.deepEqual(r, ['group', 'group', 'rate_limited']);
  });

  it('unmentioned bot chatter is context, not a loop exchange', async () => {
    const { f } = filter({ botLoopLimit: 1 });
    const chatter = telegramGroup('8000000002', { text: 'bot chatter' });
    chatter.senderIsBot = true;
    for (let i = 0; i < 3; i++) assert.equal((await f.decide(chatter)).reason, 'not_mentioned');
    assert.equal((await f.decide(otherBot(1))).reason, 'group');
  });

  it('rejects bad numbers', () => {
    assert.throws(() => filter({ botLoopLimit: -1 }), /bot loop limit must be a number of 0 or more/);
    assert.throws(() => filter({ groupContextSize: -2 }), /group context size must be a number of 0 or more/);
    assert.throws(() => filter({ groupContextMaxAgeMs: 0 }), /group context age must be more than 0/);
  });
});
