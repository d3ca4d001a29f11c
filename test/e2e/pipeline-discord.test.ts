/**
 * End to end: the Discord group bot (examples/03's wiring) in one Node-RED runtime. discord.js
 * logs in to the fake Discord (gateway + REST), the openai SDK streams from the OpenAI fake.
 * Only mentions in the allowlisted server pass; each member has a session of their own; a
 * member who floods gets the busy reply rather than silence.
 */
import assert from 'node:assert/strict';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { helper } from '../support/node-red';
import { GatedOpenAIFake, LeakWatch, pipelineModules, translate, until, watchUnhandled } from '../support/e2e-pipeline';
import { FakeDiscord, type FakeUser } from '../fakes/discord-fake';

const KEY = 'sk-e2e-discord-Secret-55aa66bb';

function discordGroupFlow(fake: FakeDiscord, llmUrl: string, dir: string): any[] {
  return [
    { id: 'bot', type: 'clawflow-discord-bot', name: 'e2e discord', apiUrl: fake.apiUrl },
    {
      id: 'sc', type: 'clawflow-sessions', name: 'discord sessions', store: 'file', dir, concurrency: 4, maxWaiting: 100, maxWaitingPerSession: 1,
      leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-member', threads: true, keyTemplate: '{channel}:{account}:{chatId}',
      historyMessages: 40, historyTokens: 8000, resetWords: 'new reset', channels: '', busyText: '', sessionBusyText: '', resetText: '',
    },
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake openai', provider: 'openai', preset: '', baseUrl: llmUrl, model: 'fake-model', timeout: 20 },
    { id: 'in', type: 'clawflow-discord-in', bot: 'bot', allowBots: false, wires: [['rf']] },
    {
      id: 'rf', type: 'clawflow-route-filter', name: 'mentions in listed servers', dmPolicy: 'disabled', owners: '', allowFrom: '', groupPolicy: 'allowlist',
      groupAllow: `discord:${fake.guildId}`, requireMention: true, rateLimit: 0, rateWindow: 60, codeTtl: 60, maxPending: 5, output2: 'replies', store: 'sc',
      wires: [['s1'], ['busy']],
    },
    { id: 's1', type: 'clawflow-session', name: 'per member', sessions: 'sc', wires: [['llm'], ['busy']] },
    {
      id: 'llm', type: 'clawflow-llm', name: 'group assistant', provider: 'p1', fallbacks: [], model: '', system: 'Be brief.', temperature: '', maxTokens: '',
      stream: true, tools: [], toolTimeout: 60, maxIterations: 8, approvalTimeout: 600, apology: true, apologyText: '', mcpServers: [], mcpTools: [], outputs: 2,
      wires: [['end'], ['end']],
    },
    { id: 'end', type: 'clawflow-session-end', sessions: 'sc', wires: [['out']] },
    { id: 'out', type: 'clawflow-discord-out', name: 'reply', bot: 'bot', replyInGuilds: true, wires: [] },
    { id: 'busy', type: 'clawflow-discord-out', name: 'busy, rate limited', bot: 'bot', replyInGuilds: true, wires: [] },
  ];
}

describe('e2e pipeline: Discord group bot (mention gating, per-member sessions, busy reply)', function () {
  this.timeout(30_000);
  let discord: FakeDiscord;
  let llm: GatedOpenAIFake;
  let dir: string;
  let unhandled: ReturnType<typeof watchUnhandled>;
  const bob: FakeUser = { id: '80351110224678912', username: 'bob', global_name: 'Bob', discriminator: '0', avatar: null };

  beforeEach(async () => {
    unhandled = watchUnhandled();
    discord = await FakeDiscord.start();
    llm = await new GatedOpenAIFake({ apiKey: KEY }).start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-e2e-dc-'));
    helper.settings({ userDir: dir });
    await helper.startServer();
    await helper.load(pipelineModules(), discordGroupFlow(discord, llm.url, path.join(dir, 'sessions')), { bot: { token: discord.token }, p1: { apiKey: KEY } });
    // discord in shows "ready as clawbot" once discord.js is logged in (read from the status spy).
    const statuses = () => (helper as any)._NodePrototype.status.getCalls().filter((c: any) => c.thisValue?.id === 'in');
    await until('the bot to be ready', () => statuses().some((c: any) => /^ready/.test(String(c.args[0]?.text))));
  });
  afterEach(async function () {
    const leaks = LeakWatch.linesWith(KEY);
    await helper.unload();
    await helper.stopServer();
    await discord.close();
    await llm.close();
    helper.settings({});
    fs.rmSync(dir, { recursive: true, force: true });
    unhandled.stop();
    if (this.currentTest?.state === 'passed') {
      assert.deepEqual(leaks, []);
      assert.deepEqual(unhandled.list, []);
    }
  });

  /** What a channel shows now: each message the bot sent, with its edits applied. */
  function shown(channelId = discord.channelId): string[] {
    return discord.sent
      .filter((m) => m.channelId === channelId)
      .map((m) => {
        const edits = discord.edits.filter((e) => e.messageId === m.id);
        return edits.length ? edits[edits.length - 1].content : m.content;
      });
  }
  const mention = (text: string) => `<@${discord.bot.id}> ${text}`;
  /** Wait until the channel shows `text` as a message of its own (a draft edited into it counts). */
  const waitShown = (text: string, ms = 8000) => discord.until(() => shown().includes(text), ms);

  it('only mentions are answered; each member has a session of their own', async () => {
    const chatter = discord.userMessage({ content: 'lunch anyone?' });
    const asked = discord.userMessage({ content: mention('what is 2+2?') });
    await waitShown('echo: what is 2+2?');
    assert.equal(llm.chatRequests().length, 1, 'chatter without a mention reached the model');
    const reply = discord.sent[shown().indexOf('echo: what is 2+2?')];
    assert.equal(reply?.reference?.message_id, asked.id, 'the reply does not quote the question');
    assert.notEqual(reply?.reference?.message_id, chatter.id);

    discord.userMessage({ author: bob, content: mention('remember the word banana') });
    await waitShown('echo: remember the word banana');
    discord.userMessage({ content: mention('and what did bob say?') });
    await waitShown('echo: and what did bob say?');
    discord.userMessage({ author: bob, content: mention('what was my word?') });
    await waitShown('echo: what was my word?');

    const userTurns = (i: number) => llm.chatRequests()[i].body.messages.filter((m: any) => m.role === 'user').map((m: any) => m.content);
    assert.deepEqual(userTurns(2), ['what is 2+2?', 'and what did bob say?'], "alice's session saw bob's turn");
    assert.deepEqual(userTurns(3), ['remember the word banana', 'what was my word?'], "bob's session lost his turn or saw alice's");
    assert.equal(shown().length, 4, `duplicates or leftovers: ${JSON.stringify(shown())}`);
  });

  it('a member over the per-session backlog gets the busy reply; the queued message is still answered', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    llm.gate = async (_i, req) => {
      if (llm.chatRequests().indexOf(req) === 0) await held;
    };
    discord.userMessage({ content: mention('one') });
    await until('the first llm call', () => llm.chatRequests().length === 1);
    discord.userMessage({ content: mention('two') }); // waits: backlog 1
    discord.userMessage({ content: mention('three') }); // over the backlog: busy
    const busyText = translate('clawflow-sessions.reply.session_busy');
    assert.notEqual(busyText, 'clawflow-sessions.reply.session_busy');
    await waitShown(busyText);
    // Bob is not held up by alice's queue.
    discord.userMessage({ author: bob, content: mention('hi from bob') });
    await waitShown('echo: hi from bob');
    release();
    await waitShown('echo: one');
    await waitShown('echo: two');
    const texts = shown();
    assert.deepEqual(texts.filter((t) => t.startsWith('echo: ')).sort(), ['echo: hi from bob', 'echo: one', 'echo: two']);
    assert.equal(texts.filter((t) => t === busyText).length, 1);
    assert.ok(!llm.chatRequests().some((r) => JSON.stringify(r.body).includes('three')), 'the refused message reached the model');
  });
});
