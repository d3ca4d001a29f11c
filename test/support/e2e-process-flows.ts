/**
 * Flows for the process-level crash tests, wired as a user wires the quick-start examples:
 * channel in -> route filter (dm open) -> session -> llm -> session end -> channel out, with
 * busy replies (session output 2), filter replies (output 2) and the llm's apology (output 2)
 * all reaching the user. Secrets travel as inline `credentials`, which a full deploy through
 * the admin API stores encrypted in flows_cred.json (never in flows.json).
 */
import { lastUserText } from '../fakes/llm-fake-base';

export const BUSY = 'BUSY-REPLY';
export const APOLOGY = 'APOLOGY-REPLY';

export interface GatewayOptions {
  llmUrl: string;
  llmKey: string;
  store?: 'file' | 'memory';
  concurrency?: number;
  maxWaiting?: number;
  maxWaitingPerSession?: number;
  stream?: boolean;
}

/** The Gateway + LLM part shared by all channels; `out` is the channel-out node id. */
function core(tab: string, o: GatewayOptions, out: string): unknown[] {
  return [
    {
      id: 'e2e-sessions', type: 'clawflow-sessions', name: 'e2e sessions', store: o.store ?? 'file', dir: '',
      concurrency: o.concurrency ?? 10, maxWaiting: o.maxWaiting ?? 1000, maxWaitingPerSession: o.maxWaitingPerSession ?? 20,
      leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-group', threads: true,
      keyTemplate: '{channel}:{account}:{chatId}', historyMessages: 40, historyTokens: 8000, resetWords: 'new reset',
      channels: '', busyText: BUSY, sessionBusyText: BUSY, resetText: '',
    },
    {
      id: 'e2e-provider', type: 'clawflow-llm-provider', name: 'fake openai', provider: 'openai', preset: '',
      baseUrl: o.llmUrl, model: 'fake-model', timeout: 60, credentials: { apiKey: o.llmKey },
    },
    {
      id: 'e2e-filter', type: 'clawflow-route-filter', z: tab, name: 'open', dmPolicy: 'open', owners: '', allowFrom: '',
      groupPolicy: 'open', groupAllow: '', requireMention: true, rateLimit: 0, rateWindow: 60, codeTtl: 60, maxPending: 5,
      output2: 'replies', store: '', wires: [['e2e-session'], [out]],
    },
    { id: 'e2e-session', type: 'clawflow-session', z: tab, sessions: 'e2e-sessions', wires: [['e2e-llm'], [out]] },
    {
      id: 'e2e-llm', type: 'clawflow-llm', z: tab, name: 'assistant', provider: 'e2e-provider', fallbacks: [], model: '',
      system: 'be brief', temperature: '', maxTokens: '', stream: o.stream !== false, tools: [], toolTimeout: 60,
      maxIterations: 8, approvalTimeout: 600, apology: true, apologyText: APOLOGY, mcpServers: [], mcpTools: [], outputs: 2,
      wires: [['e2e-end'], ['e2e-end']],
    },
    { id: 'e2e-end', type: 'clawflow-session-end', z: tab, sessions: 'e2e-sessions', wires: [[out]] },
  ];
}

/** Telegram bot on a fake Bot API, polling. */
export function telegramFlow(tg: { apiRoot: string; token: string }, o: GatewayOptions): unknown[] {
  const tab = 'e2e-tab';
  return [
    { id: tab, type: 'tab', label: 'e2e telegram' },
    { id: 'e2e-bot', type: 'clawflow-telegram-bot', name: 'e2e bot', mode: 'polling', apiRoot: tg.apiRoot, webhookBaseUrl: '', webhookPath: '/telegram/webhook', credentials: { token: tg.token } },
    { id: 'e2e-in', type: 'clawflow-telegram-in', z: tab, bot: 'e2e-bot', acceptBots: false, acceptEdits: true, wires: [['e2e-filter']] },
    { id: 'e2e-out', type: 'clawflow-telegram-out', z: tab, bot: 'e2e-bot', format: 'plain', replyInGroups: true, editInterval: 500, wires: [[]] },
    ...core(tab, o, 'e2e-out'),
  ];
}

/** Discord bot on a fake gateway + REST. */
export function discordFlow(d: { apiUrl: string; token: string }, o: GatewayOptions): unknown[] {
  const tab = 'e2e-tab';
  return [
    { id: tab, type: 'tab', label: 'e2e discord' },
    { id: 'e2e-dbot', type: 'clawflow-discord-bot', name: 'e2e discord', apiUrl: d.apiUrl, credentials: { token: d.token } },
    { id: 'e2e-din', type: 'clawflow-discord-in', z: tab, bot: 'e2e-dbot', allowBots: false, wires: [['e2e-filter']] },
    { id: 'e2e-dout', type: 'clawflow-discord-out', z: tab, bot: 'e2e-dbot', replyInGuilds: true },
    ...core(tab, o, 'e2e-dout'),
  ];
}

/**
 * The fake LLM's answer: `re: ` + every user text since the last assistant turn, so a test can
 * tell which messages a reply covers even when a turn carries several.
 */
export function echoTurn(body: any): string {
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const texts: string[] = [];
  for (let i = msgs.length - 1; i >= 0 && msgs[i].role !== 'assistant'; i--) {
    if (msgs[i].role === 'user') texts.unshift(typeof msgs[i].content === 'string' ? msgs[i].content : lastUserText({ messages: [msgs[i]] }));
  }
  return `re: ${texts.join(' | ')}`;
}

/** Words of a reply made by {@link echoTurn}. */
export function coveredBy(reply: string): string[] {
  return reply.startsWith('re: ') ? reply.slice(4).split(' | ') : [];
}
