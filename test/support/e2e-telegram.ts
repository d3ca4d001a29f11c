/**
 * The Telegram assistant of examples/02 as an end-to-end test fixture: the real nodes, the fake
 * Bot API (grammY polls it), the OpenAI fake (the openai SDK calls it), a file session store and
 * a file pairing store in a temp user dir. Used by test/e2e/pipeline-telegram*.test.ts.
 *
 * ```
 * [telegram in] -> [route filter] -1-> [session] -1-> [llm] -1-> [session end] -> [reply out]
 *                        |2                 |2          |2 error -^
 *                        +-----> [notice out] <---------+          (get_time) -> [function] -> [tool result]
 * ```
 * The llm error output goes through session end (so the turn is released) to the reply out, as
 * the llm help says and the example wires it.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { helper } from './node-red';
import { GatedOpenAIFake, pipelineModules } from './e2e-pipeline';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeUser, type SentMessage } from '../fakes/telegram-bot-api';
import { telegramTestSettings } from '../fakes/telegram-flow';

/** The API key of the fake provider: a secret that must never leave the credentials. */
export const LLM_KEY = 'sk-e2e-Secret-0b1c2d3e4f5a6b7c';

/** The get_time tool's function node: the answer the model must get back. */
export const TOOL_FN = "msg.payload = 'It is 12:00 in ' + (msg.payload.timezone || 'local time') + '.'; return msg;";

export interface TelegramPipelineOptions {
  /** Route filter DM allowlist (pre-approved under pairing), e.g. `telegram:1001`. */
  allowFrom?: string;
  /** Per-session backlog. */
  maxWaitingPerSession?: number;
  /** llm node "stream partials". */
  stream?: boolean;
}

export interface TelegramPipeline {
  tg: FakeTelegram;
  llm: GatedOpenAIFake;
  userDir: string;
  flow: any[];
  credentials: Record<string, Record<string, string>>;
  /** Deploy the same flow again (a full redeploy, as the editor's Deploy button does). */
  redeploy(): Promise<void>;
  close(): Promise<void>;
}

/** The flow of examples/02 pointed at the fakes (same node types, same wiring). */
export function telegramAssistantFlow(tg: FakeTelegram, llmUrl: string, sessionsDir: string, o: TelegramPipelineOptions = {}): any[] {
  return [
    { id: 'bot', type: 'clawflow-telegram-bot', name: 'e2e bot', mode: 'polling', apiRoot: tg.apiRoot, webhookBaseUrl: '', webhookPath: '/telegram/webhook' },
    {
      id: 'sc', type: 'clawflow-sessions', name: 'telegram sessions', store: 'file', dir: sessionsDir, concurrency: 4, maxWaiting: 100,
      maxWaitingPerSession: o.maxWaitingPerSession ?? 5, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-group',
      threads: true, keyTemplate: '{channel}:{account}:{chatId}', historyMessages: 40, historyTokens: 8000, resetWords: 'new reset', channels: '',
      busyText: '', sessionBusyText: '', resetText: '',
    },
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake openai', provider: 'openai', preset: '', baseUrl: llmUrl, model: 'fake-model', timeout: 20 },
    { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', acceptBots: false, acceptEdits: true, wires: [['rf']] },
    {
      id: 'rf', type: 'clawflow-route-filter', name: 'pairing', dmPolicy: 'pairing', owners: '', allowFrom: o.allowFrom ?? '', groupPolicy: 'allowlist',
      groupAllow: `telegram:${tg.group.id}`, requireMention: true, rateLimit: 0, rateWindow: 60, codeTtl: 60, maxPending: 5, output2: 'replies', store: 'sc',
      wires: [['s1'], ['notices']],
    },
    { id: 's1', type: 'clawflow-session', sessions: 'sc', wires: [['llm'], ['notices']] },
    {
      id: 'llm', type: 'clawflow-llm', name: 'assistant with tools', provider: 'p1', fallbacks: [], model: '', system: 'You are a concise assistant.',
      temperature: '', maxTokens: '', stream: o.stream ?? true,
      tools: [{ name: 'get_time', description: 'The current time', schema: '{"type":"object","properties":{"timezone":{"type":"string"}}}', approval: false, timeout: '' }],
      toolTimeout: 10, maxIterations: 4, approvalTimeout: 600, apology: true, apologyText: '', mcpServers: [], mcpTools: [], outputs: 3,
      wires: [['end'], ['end'], ['fn']],
    },
    { id: 'end', type: 'clawflow-session-end', sessions: 'sc', wires: [['out']] },
    { id: 'out', type: 'clawflow-telegram-out', name: 'reply', bot: 'bot', format: 'markdown', replyInGroups: true, editInterval: 500, wires: [] },
    { id: 'notices', type: 'clawflow-telegram-out', name: 'pairing, busy', bot: 'bot', format: 'plain', replyInGroups: true, editInterval: 1000, wires: [] },
    { id: 'fn', type: 'function', name: 'get_time', func: TOOL_FN, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], wires: [['tr']] },
    { id: 'tr', type: 'clawflow-tool-result', name: '', wires: [] },
  ];
}

/** Start both fakes and deploy the Telegram assistant; resolves once the bot is polling. */
export async function startTelegramPipeline(o: TelegramPipelineOptions = {}): Promise<TelegramPipeline> {
  const tg = await startFakeTelegram();
  const llm = await new GatedOpenAIFake({ apiKey: LLM_KEY }).start();
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-e2e-tg-'));
  const sessionsDir = path.join(userDir, 'sessions');
  helper.settings(telegramTestSettings(userDir));
  const flow = telegramAssistantFlow(tg, llm.url, sessionsDir, o);
  const credentials = { bot: { token: tg.token }, p1: { apiKey: LLM_KEY } };
  const modules = pipelineModules();
  await helper.load(modules, flow, credentials);
  await tg.waitFor(() => tg.activePolls() === 1, 'the bot to poll');
  return {
    tg,
    llm,
    userDir,
    flow,
    credentials,
    async redeploy() {
      await helper.setFlows(JSON.parse(JSON.stringify(flow)), 'full', credentials);
    },
    async close() {
      await helper.unload();
      await tg.close();
      await llm.close();
      helper.settings({});
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** A Telegram user with their own private chat. */
export function telegramUser(id: number, name: string): { from: FakeUser; chat: FakeChat } {
  return { from: { id, is_bot: false, first_name: name }, chat: { id, type: 'private' } };
}

/** Messages in `chatId` whose visible text is exactly `text`. */
export function sentWithText(tg: FakeTelegram, chatId: number, text: string): SentMessage[] {
  return tg.sent(chatId).filter((m) => m.text === text);
}

/** Wait until the bot's message in `chatId` reads exactly `text` (drafts edited into it count once done). */
export async function waitForReply(tg: FakeTelegram, chatId: number, text: string, ms = 8000): Promise<SentMessage> {
  await tg.waitFor(() => sentWithText(tg, chatId, text).length > 0, `the reply "${text.slice(0, 60)}" in chat ${chatId}`, ms);
  return sentWithText(tg, chatId, text)[0];
}
