/**
 * End to end: the web chat quick start (examples/01's wiring) typed into by a real browser.
 * Headless Chromium (playwright-core, test/support/browser.ts) opens the page Node-RED serves;
 * webchat in -> route filter -> session -> llm (the OpenAI fake, streaming) -> session end ->
 * webchat out. The answer streams into one bubble; a reload shows the conversation again.
 */
import assert from 'node:assert/strict';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { chromiumPath, hasChromium, needService } from '../support/services';
import { launchBrowser, type BrowserSession } from '../support/browser';
import { GatedOpenAIFake, helper, LeakWatch, mountHttpNode, pipelineModules } from '../support/e2e-pipeline';

const KEY = 'sk-e2e-webchat-Secret-77cc88dd';

function quickStartFlow(llmUrl: string, dir: string): any[] {
  return [
    { id: 'wc', type: 'clawflow-webchat', name: 'quick start chat', path: '/clawflow/chat', title: 'clawflow quick start', historyLimit: 200, origins: '' },
    {
      id: 'sc', type: 'clawflow-sessions', name: 'quick start sessions', store: 'file', dir, concurrency: 4, maxWaiting: 100, maxWaitingPerSession: 5,
      leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-group', threads: true, keyTemplate: '{channel}:{account}:{chatId}',
      historyMessages: 40, historyTokens: 8000, resetWords: 'new reset', channels: '', busyText: '', sessionBusyText: '', resetText: '',
    },
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake openai', provider: 'openai', preset: '', baseUrl: llmUrl, model: 'fake-model', timeout: 20 },
    { id: 'in', type: 'clawflow-webchat-in', webchat: 'wc', wires: [['rf']] },
    {
      id: 'rf', type: 'clawflow-route-filter', name: 'web chat only', dmPolicy: 'allowlist', owners: '', allowFrom: 'webchat:*', groupPolicy: 'disabled',
      groupAllow: '', requireMention: true, rateLimit: 10, rateWindow: 60, codeTtl: 60, maxPending: 5, output2: 'replies', store: 'sc', wires: [['s1'], ['notices']],
    },
    { id: 's1', type: 'clawflow-session', sessions: 'sc', wires: [['llm'], ['notices']] },
    {
      id: 'llm', type: 'clawflow-llm', name: 'assistant', provider: 'p1', fallbacks: [], model: '', system: 'Be friendly.', temperature: '', maxTokens: '',
      stream: true, tools: [], toolTimeout: 60, maxIterations: 8, approvalTimeout: 600, apology: true, apologyText: '', mcpServers: [], mcpTools: [], outputs: 2,
      wires: [['end'], ['end']],
    },
    { id: 'end', type: 'clawflow-session-end', sessions: 'sc', wires: [['out']] },
    { id: 'out', type: 'clawflow-webchat-out', name: 'reply', webchat: 'wc', wires: [] },
    { id: 'notices', type: 'clawflow-webchat-out', name: 'refusals, busy', webchat: 'wc', wires: [] },
  ];
}

describe('e2e pipeline: web chat quick start in Chromium', function () {
  this.timeout(60_000);
  let userDir: string;
  let llm: GatedOpenAIFake;
  let browser: BrowserSession;

  before(async function () {
    needService(this, 'e2e web chat quick start in Chromium', hasChromium(), `no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-e2e-wc-'));
    llm = await new GatedOpenAIFake({ apiKey: KEY }).start();
    helper.settings({ userDir });
    await helper.startServer();
    await helper.load(pipelineModules(), quickStartFlow(llm.url, path.join(userDir, 'sessions')), { p1: { apiKey: KEY } });
    mountHttpNode();
    browser = await launchBrowser({ viewport: { width: 420, height: 800 } });
  });

  after(async function () {
    await browser?.close();
    await helper.unload();
    await helper.stopServer();
    await llm?.close();
    helper.settings({});
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  const botTexts = () => browser.page.$$eval('#log .msg.bot:not([hidden]) .body', (els) => els.map((e) => e.textContent));
  const userTexts = () => browser.page.$$eval('#log .msg.user .body', (els) => els.map((e) => e.textContent));
  async function type(text: string): Promise<void> {
    await browser.page.fill('#input', text);
    await browser.page.press('#input', 'Enter');
  }

  it('a typed question gets a streamed answer, and a reload shows the conversation', async () => {
    const { page } = browser;
    await page.goto(helper.url() + '/clawflow/chat/');
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'online');
    assert.equal(await page.textContent('#title'), 'clawflow quick start');

    // The answer is held after its first piece until the page shows that piece streaming.
    const answer = 'Hello! I am **clawflow**, streaming this answer piece by piece.';
    llm.enqueue({ text: answer, pieces: 4 });
    llm.gate = async (index) => {
      if (index === 2) await page.waitForSelector('#log .msg.bot.streaming >> text=Hello!', { timeout: 10_000 });
    };
    await type('Who are you?');
    await page.waitForSelector('#log .msg.bot:not(.streaming) strong');
    assert.equal(await page.textContent('#log .msg.bot:not(.streaming) strong'), 'clawflow');
    assert.deepEqual(await botTexts(), ['Hello! I am clawflow, streaming this answer piece by piece.'], 'one bubble per reply');
    llm.gate = undefined;

    // A second turn in the same session: the model gets the history.
    await type('And again?');
    await page.waitForSelector('#log .msg.bot >> text=echo: And again?');
    const second = llm.chatRequests()[1].body.messages.map((m: any) => `${m.role}:${m.content}`);
    assert.deepEqual(second, ['system:Be friendly.', 'user:Who are you?', `assistant:${answer}`, 'user:And again?']);

    const before = { user: await userTexts(), bot: await botTexts() };
    assert.deepEqual(before.user, ['Who are you?', 'And again?']);
    await page.reload();
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'online');
    await page.waitForFunction((n) => document.querySelectorAll('#log .msg').length >= n, 4);
    assert.deepEqual(await userTexts(), before.user);
    assert.deepEqual(await botTexts(), before.bot);
    assert.equal(llm.chatRequests().length, 2, 'the reload asked the model again');
    assert.deepEqual(browser.pageErrors, []);
    assert.deepEqual(browser.blocked, []);
    assert.deepEqual(LeakWatch.linesWith(KEY), []);
  });
});
