/**
 * The quick-start example does what its comment promises: deployed as it ships (only the Ollama
 * address pointed at a loopback Ollama fake), its chat page in Chromium gets a streamed answer,
 * and the follow-up reaches the model with the earlier turns (the session remembers).
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import type { Page } from 'playwright-core';
import { OllamaFake } from '../fakes/ollama-fake';
import { launchBrowser, type BrowserSession } from '../support/browser';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../support/node-red-process';
import { chromiumPath, hasChromium, needService } from '../support/services';

const FILE = path.join(repoRoot, 'examples', '01 Quick start - web chat.json');

describe('quick-start example: chat page to the model and back (Chromium)', function () {
  this.timeout(120_000);
  let nr: NodeRedProcess;
  let ollama: OllamaFake;
  let browser: BrowserSession;
  let page: Page;

  before(async function () {
    needService(this, 'quick-start chat in Chromium', hasChromium(), `no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
    if (!fs.existsSync(path.join(repoRoot, 'dist', 'nodes'))) throw new Error('dist/nodes is missing: run `npm run build` (npm test does it)');
    ollama = await new OllamaFake({ chunkDelayMs: 20 }).start();
    const flow = JSON.parse(fs.readFileSync(FILE, 'utf8')) as any[];
    const provider = flow.find((n) => n.type === 'clawflow-llm-provider');
    assert.strictEqual(provider.provider, 'ollama', 'the quick start uses Ollama by default');
    assert.strictEqual(provider.baseUrl, '', "Ollama's own default address (127.0.0.1:11434)");
    provider.baseUrl = ollama.url; // the only change: the fake instead of a real Ollama
    nr = await startNodeRed({ linkPackage: true, flows: flow, settings: { telemetry: { enabled: false } } });
    browser = await launchBrowser({ viewport: { width: 420, height: 760 } });
    page = browser.page;
    await page.goto(`${nr.url}/clawflow/chat/`);
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'online', null, { timeout: 30_000 });
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
    await ollama?.close();
  });

  async function say(text: string): Promise<void> {
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
  }
  const botTexts = () => page.$$eval('#log .msg.bot:not(.streaming) .body', (els) => els.map((e) => e.textContent));

  it('answers the first message with the model reply', async () => {
    ollama.enqueue({ text: 'Hello! How can I help you today?', pieces: 4 });
    await say('hello');
    await page.waitForSelector('#log .msg.bot:not(.streaming) >> text=How can I help you today?');
    assert.deepStrictEqual(await botTexts(), ['Hello! How can I help you today?']);
    const req = ollama.chatRequests()[0];
    assert.strictEqual(req.body.model, 'llama3.2', 'the model named in the example');
    assert.strictEqual(req.body.stream, true);
    assert.strictEqual(req.body.messages[0].role, 'system');
  });

  it('sends the earlier turns with the follow-up', async () => {
    ollama.enqueue({ text: 'You said "hello".' });
    await say('what did I just say?');
    await page.waitForSelector('#log .msg.bot:not(.streaming) >> text=You said');
    const msgs = ollama.chatRequests()[1].body.messages.filter((m: any) => m.role !== 'system').map((m: any) => [m.role, m.content]);
    assert.deepStrictEqual(msgs, [
      ['user', 'hello'],
      ['assistant', 'Hello! How can I help you today?'],
      ['user', 'what did I just say?'],
    ]);
    assert.deepStrictEqual(browser.blocked.filter((u) => !u.startsWith('http://127.0.0.1')), []);
    assert.deepStrictEqual(browser.pageErrors, []);
  });
});
