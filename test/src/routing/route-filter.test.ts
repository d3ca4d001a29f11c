import assert from 'node:assert/strict';
import { RouteFilter, type RouteFilterOptions, type Rejected } from '../../../src/routing';
import { MemoryKeyValueStore } from '../../../src/store/kv';
import { discordDm, discordGuild, fakeClock, pairCommand, telegramDm, telegramGroup, webchat } from './envelopes';

function filter(opts: Partial<RouteFilterOptions> = {}) {
  const clock = fakeClock();
  const f = new RouteFilter({ store: new MemoryKeyValueStore(), now: clock.now, ...opts });
  return { f, clock };
}

function reason(d: { accept: boolean; reason: string }): string {
  return `${d.accept ? 'accept' : 'reject'}:${d.reason}`;
}

describe('routing/RouteFilter: policies and reasons', () => {
  describe('dmPolicy', () => {
    it('defaults to pairing and to a group allowlist', () => {
      const { f } = filter();
      assert.equal(f.dmPolicy, 'pairing');
      assert.equal(f.groupPolicy, 'allowlist');
      assert.equal(f.requireMention, true);
    });

    it('open: every direct message passes on every channel', async () => {
      const { f } = filter({ dmPolicy: 'open' });
      for (const env of [telegramDm('1'), discordDm('222333'), webchat('peer-a')]) {
        assert.equal(reason(await f.decide(env)), 'accept:open');
      }
    });

    it('disabled: direct messages stop with dm_disabled and no reply, even from owners', async () => {
      const { f } = filter({ dmPolicy: 'disabled', owners: 'telegram:1' });
      const d = (await f.decide(telegramDm('2'))) as Rejected;
      assert.equal(reason(d), 'reject:dm_disabled');
      assert.equal(d.reply, undefined);
      assert.equal(reason(await f.decide(telegramDm('1'))), 'reject:dm_disabled');
    });

    it('allowlist: only listed senders of that channel pass; owners pass; others get not_allowlisted silently', async () => {
      const { f } = filter({ dmPolicy: 'allowlist', allowFrom: 'telegram:100, discord:555000', owners: 'telegram:1' });
      assert.equal(reason(await f.decide(telegramDm('100'))), 'accept:allowlisted');
      assert.equal(reason(await f.decide(discordDm('555000'))), 'accept:allowlisted');
      assert.equal(reason(await f.decide(telegramDm('1'))), 'accept:owner');
      // Same id on another channel is another person.
      const other = (await f.decide(discordDm('100'))) as Rejected;
      assert.equal(reason(other), 'reject:not_allowlisted');
      assert.equal(other.reply, undefined);
      assert.equal(reason(await f.decide(webchat('x'))), 'reject:not_allowlisted');
    });

    it('allowlist: channel:* admits a whole channel', async () => {
      const { f } = filter({ dmPolicy: 'allowlist', allowFrom: 'webchat:*' });
      assert.equal(reason(await f.decide(webchat('anyone'))), 'accept:allowlisted');
      assert.equal(reason(await f.decide(telegramDm('5'))), 'reject:not_allowlisted');
    });

    it('pairing: owners and allowlisted senders pass without a code', async () => {
      const { f } = filter({ owners: 'discord:900', allowFrom: 'telegram:100' });
      assert.equal(reason(await f.decide(discordDm('900'))), 'accept:owner');
      assert.equal(reason(await f.decide(telegramDm('100'))), 'accept:allowlisted');
    });

    it('pairing: a stranger gets pairing_required with a code in the reply', async () => {
      const { f } = filter();
      const d = (await f.decide(telegramDm('42'))) as Rejected;
      assert.equal(reason(d), 'reject:pairing_required');
      assert.ok(d.pairing);
      assert.equal(d.reply?.key, 'pairingRequired');
      assert.equal(d.reply?.params.code, d.pairing.code);
      assert.equal(d.reply?.params.minutes, 60);
    });
  });

  describe('groups', () => {
    it('groupPolicy disabled: group_disabled', async () => {
      const { f } = filter({ groupPolicy: 'disabled' });
      assert.equal(reason(await f.decide(telegramGroup('1', { mentioned: true }))), 'reject:group_disabled');
    });

    it('groupPolicy allowlist: unlisted groups get group_not_allowed; listed by chat id or guild id pass', async () => {
      const { f } = filter({ groupAllow: 'telegram:-1001234567890 discord:1100000000000000001' });
      assert.equal(reason(await f.decide(telegramGroup('1', { mentioned: true }))), 'accept:group');
      assert.equal(reason(await f.decide(telegramGroup('1', { chatId: '-1009', mentioned: true }))), 'reject:group_not_allowed');
      // Discord: the guild id is on the list, so every channel of that guild passes.
      assert.equal(reason(await f.decide(discordGuild('7', { channelId: '1200000000000000099', mentioned: true }))), 'accept:group');
      assert.equal(reason(await f.decide(discordGuild('7', { guildId: '1100000000000000002', mentioned: true }))), 'reject:group_not_allowed');
    });

    it('groupPolicy allowlist: a Discord thread passes when its parent channel is listed (parentChatId)', async () => {
      const { f } = filter({ groupAllow: 'discord:1200000000000000001' });
      // Discord replies to a thread by the thread's own channel id, so that is its chatId.
      const thread = discordGuild('7', { channelId: '1200000000000000055', threadId: '1200000000000000055', guildId: '1100000000000000002', mentioned: true });
      assert.equal(reason(await f.decide(thread)), 'reject:group_not_allowed');
      assert.equal(reason(await f.decide({ ...thread, parentChatId: '1200000000000000001' })), 'accept:group');
      assert.equal(reason(await f.decide({ ...thread, parentChatId: '1200000000000000002' })), 'reject:group_not_allowed');
    });

    it('a group allowlist check runs before mention gating (an unlisted group is never "not_mentioned")', async () => {
      const { f } = filter();
      assert.equal(reason(await f.decide(telegramGroup('1'))), 'reject:group_not_allowed');
    });

    it('mention gating on envelopes of each adapter: mention and reply-to-bot pass, chatter does not', async () => {
      const { f } = filter({ groupPolicy: 'open' });
      const cases: [string, ReturnType<typeof telegramGroup>, string][] = [
        ['telegram chatter', telegramGroup('1'), 'reject:not_mentioned'],
        ['telegram @mention', telegramGroup('1', { mentioned: true }), 'accept:group'],
        ['telegram reply to bot', telegramGroup('1', { replyToBot: true }), 'accept:group'],
        ['telegram /cmd@bot', telegramGroup('1', { mentioned: true, command: { name: 'new', args: '' } }), 'accept:group'],
        ['telegram bare /cmd not addressed', telegramGroup('1', { command: { name: 'new', args: '' } }), 'reject:not_mentioned'],
        ['discord chatter', discordGuild('2'), 'reject:not_mentioned'],
        ['discord <@bot>', discordGuild('2', { mentioned: true }), 'accept:group'],
        ['discord reply to bot in thread', discordGuild('2', { threadId: '1400', replyToBot: true }), 'accept:group'],
      ];
      for (const [what, env, want] of cases) assert.equal(reason(await f.decide(env)), want, what);
    });

    it('a reply to someone else is not a mention', async () => {
      const { f } = filter({ groupPolicy: 'open' });
      const env = telegramGroup('1');
      env.replyTo = { messageId: '5', senderId: '99', fromBot: false };
      assert.equal(reason(await f.decide(env)), 'reject:not_mentioned');
    });

    it('requireMention off lets all group traffic of allowed groups through', async () => {
      const { f } = filter({ groupPolicy: 'open', requireMention: false });
      assert.equal(reason(await f.decide(discordGuild('2'))), 'accept:group');
    });

    it('group messages are not subject to DM pairing', async () => {
      const { f } = filter({ groupPolicy: 'open', dmPolicy: 'pairing' });
      assert.equal(reason(await f.decide(telegramGroup('stranger', { mentioned: true }))), 'accept:group');
    });
  });

  describe('owner /pair command', () => {
    it('an owner gets pairing_command with a reply; a non-owner /pair is an ordinary message', async () => {
      const { f } = filter({ dmPolicy: 'open', owners: 'telegram:1' });
      const own = (await f.decide(telegramDm('1', '/pair list', { command: pairCommand('list') }))) as Rejected;
      assert.equal(reason(own), 'reject:pairing_command');
      assert.equal(own.reply?.key, 'listEmpty');
      const other = await f.decide(telegramDm('2', '/pair list', { command: pairCommand('list') }));
      assert.equal(reason(other), 'accept:open');
    });

    it('in a group the owner command must still be addressed to the bot', async () => {
      const { f } = filter({ groupPolicy: 'open', owners: 'telegram:1' });
      const cmd = pairCommand('list');
      assert.equal(reason(await f.decide(telegramGroup('1', { command: cmd }))), 'reject:not_mentioned');
      assert.equal(reason(await f.decide(telegramGroup('1', { command: cmd, mentioned: true }))), 'reject:pairing_command');
    });

    it('unknown sub-commands answer with usage', async () => {
      const { f } = filter({ owners: 'webchat:boss' });
      const env = webchat('boss', '/pair what');
      env.command = pairCommand('what');
      const d = (await f.decide(env)) as Rejected;
      assert.equal(d.reply?.key, 'usage');
    });
  });

  describe('options', () => {
    it('rejects bad lists and policies with errors that say how to write them', () => {
      assert.throws(() => filter({ owners: '12345' }), /owners: "12345" must be written as channel:id/);
      assert.throws(() => filter({ dmPolicy: 'everyone' as never }), /dmPolicy "everyone" is unknown: use one of pairing, allowlist, open, disabled/);
      assert.throws(() => filter({ groupPolicy: 'x' as never }), /groupPolicy "x" is unknown/);
      assert.throws(() => filter({ rateLimit: -1 }), /rate limit must be a number of 0 or more/);
      assert.throws(() => filter({ codeTtlMs: 0 }), /code lifetime must be more than 0/);
    });

    it('channel names in lists are case-insensitive, ids are not', async () => {
      const { f } = filter({ dmPolicy: 'allowlist', allowFrom: 'Telegram:AbC' });
      assert.equal(reason(await f.decide(telegramDm('AbC'))), 'accept:allowlisted');
      assert.equal(reason(await f.decide(telegramDm('abc'))), 'reject:not_allowlisted');
    });
  });
});
