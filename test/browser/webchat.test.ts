/**
 * The web chat page in a real browser (headless Chromium driven by playwright-core) against a
 * Node-RED started by the test: webchat in -> function -> webchat out. The function echoes
 * "echo ..." lines, answers "xss" with a hostile reply, and leaves every other message to the
 * test, which answers through the webchat out node (partials, finals, errors) when it chooses.
 */
import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { chromiumPath, hasChromium, needService } from '../support/services';
import { helper, mountHttpNode, webchatModules } from '../fakes/webchat-flow';
import { acceptHandoffs, cancelHandoff, handedOff, HANDOFF_PROP } from '../../src/handoff';

const FN = `
if (msg.payload.startsWith('echo ')) {
  msg.payload = 'You said: **' + msg.payload.slice(5) + '**';
  return msg;
}
if (msg.payload === 'xss') {
  msg.payload = 'Look: <img src=x onerror="window.__xss = 1"> and <script>window.__xss = 2</script> ' +
    '[click me](javascript:window.__xss=3) <a href="javascript:window.__xss=4">a</a>';
  return msg;
}
return null;`;

const FLOW = [
  { id: 'cfg', type: 'clawflow-webchat', name: 'chat', path: '/clawflow/chat', title: 'clawflow demo', historyLimit: 200, origins: '' },
  { id: 'in', type: 'clawflow-webchat-in', webchat: 'cfg', wires: [['fn', 'seen']] },
  { id: 'fn', type: 'function', func: FN, outputs: 1, wires: [['out']] },
  { id: 'out', type: 'clawflow-webchat-out', webchat: 'cfg', wires: [] },
  { id: 'seen', type: 'helper' },
];

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('webchat page in Chromium', function () {
  this.timeout(60_000);
  let userDir: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  /** Messages webchat in sent, in order. */
  let seen: any[];

  before(async function () {
    needService(this, 'webchat page in Chromium', hasChromium(), `no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-webchat-nr-'));
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-webchat-chromium-'));
    helper.settings({ userDir });
    await helper.startServer();
    mountHttpNode();
    await helper.load(webchatModules, FLOW);
    seen = [];
    helper.getNode('seen').on('input', (msg: any) => seen.push(msg));
    url = helper.url() + '/clawflow/chat/';
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ARGS,
      viewport: { width: 390, height: 760 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Nothing but the loopback Node-RED: any other request fails the suite.
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.hostname === '127.0.0.1') return route.fallback();
      return route.abort();
    });
    await page.goto(url);
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'online');
  });

  after(async function () {
    await context?.close();
    await helper.unload();
    await helper.stopServer();
    for (const d of [userDir, profile]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  async function type(text: string): Promise<void> {
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
  }
  async function lastSeen(n: number): Promise<any> {
    await waitUntil(() => seen.length >= n);
    return seen[n - 1];
  }
  const botTexts = () => page.$$eval('#log .msg.bot:not([hidden]) .body', (els) => els.map((e) => e.textContent));
  const userTexts = () => page.$$eval('#log .msg.user .body', (els) => els.map((e) => e.textContent));

  it('shows the title, sends a message and shows the rendered reply', async function () {
    assert.strictEqual(await page.textContent('#title'), 'clawflow demo');
    await type('echo hello');
    await page.waitForSelector('#log .msg.bot strong');
    assert.strictEqual(await page.textContent('#log .msg.bot strong'), 'hello');
    assert.deepStrictEqual(await userTexts(), ['echo hello']);
    assert.deepStrictEqual(await botTexts(), ['You said: hello']);
  });

  it('shows typing, then the reply streaming in, then the final', async function () {
    await type('tell me a story');
    const msg = await lastSeen(2);
    assert.strictEqual(msg.payload, 'tell me a story');
    // Right after sending, before any reply: typing.
    await page.waitForFunction(() => document.body.getAttribute('data-typing') === 'yes');
    const out = helper.getNode('out');
    out.receive({ ...msg, payload: '', stream: { id: 's1', seq: 0, delta: '', done: false } });
    out.receive({ ...msg, payload: 'Once upon a **ti', stream: { id: 's1', seq: 1, delta: 'Once upon a **ti', done: false } });
    await page.waitForSelector('#log .msg.bot.streaming >> text=Once upon a');
    assert.strictEqual(await page.$('#log .msg.bot.streaming strong'), null, 'unfinished bold stays text');
    out.receive({ ...msg, payload: 'Once upon a **time**\n\n- one\n- two', stream: { id: 's1', seq: 2, delta: 'me**…', done: true } });
    await page.waitForSelector('#log .msg.bot:not(.streaming) li');
    assert.strictEqual(await page.textContent('#log .msg.bot:last-child strong'), 'time');
    assert.deepStrictEqual(await page.$$eval('#log .msg.bot:last-child li', (els) => els.map((e) => e.textContent)), ['one', 'two']);
    await page.waitForFunction(() => document.body.getAttribute('data-typing') === 'no');
    assert.strictEqual((await page.$$('#log .msg.bot')).length, 2, 'one bubble per reply, no duplicate final');
  });

  it('shows the history again after a reload', async function () {
    const before = { user: await userTexts(), bot: await botTexts() };
    await page.reload();
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'online');
    await page.waitForFunction((n) => document.querySelectorAll('#log .msg').length >= n, before.user.length + before.bot.length);
    assert.deepStrictEqual(await userTexts(), before.user);
    assert.deepStrictEqual(await botTexts(), before.bot);
  });

  it('loses no reply when the connection drops and comes back', async function () {
    await type('are you there?');
    const msg = await lastSeen(3);
    const peerId = await page.evaluate(() => localStorage.getItem('clawflow.webchat:/clawflow/chat:peer'));
    assert.strictEqual(msg.chat.chatId, peerId);
    await page.waitForSelector('#log .msg.user:not(.pending) >> text=are you there?');
    // Cut the network: no new tickets, and the server drops the socket.
    await context.route('**/ticket', (route) => route.abort('internetdisconnected'));
    assert.strictEqual(helper.getNode('cfg').server.dropPeer(peerId), 1);
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'reconnecting');
    assert.match((await page.textContent('#status')) || '', /Reconnecting/);
    // The reply is sent while the page is offline.
    helper.getNode('out').receive({ ...msg, payload: 'Yes, still here.' });
    await waitUntil(async () => (await helper.getNode('cfg').server.outbox.since(peerId, undefined, undefined)).events.some((e: any) => e.text === 'Yes, still here.'));
    assert.ok(!(await botTexts()).includes('Yes, still here.'));
    await context.unroute('**/ticket');
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForSelector('#log .msg.bot >> text=Yes, still here.');
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'online');
    assert.strictEqual(await page.isHidden('#status'), true);
  });

  it('shows hostile markup as text and runs no script', async function () {
    await type('<img src=x onerror="window.__xss = 5"> xss');
    await type('xss');
    await page.waitForSelector('#log .msg.bot >> text=Look:');
    const flags = await page.evaluate(() => (window as any).__xss);
    assert.strictEqual(flags, undefined);
    const lastBot = (await botTexts()).pop() || '';
    assert.ok(lastBot.includes('<img src=x onerror="window.__xss = 1">'), lastBot);
    assert.ok(lastBot.includes('<script>window.__xss = 2</script>'), lastBot);
    assert.ok((await userTexts()).includes('<img src=x onerror="window.__xss = 5"> xss'));
    assert.strictEqual((await page.$$('#log img, #log script, #log a[href^="javascript"]')).length, 0);
  });

  it('shows a failed reply', async function () {
    await type('this will fail');
    const msg = await lastSeen(6);
    helper.getNode('out').receive({ ...msg, payload: '', error: { message: 'The provider is unreachable' } });
    await page.waitForSelector('#log .msg.bot.failed .failure');
    assert.match((await page.textContent('#log .msg.bot.failed .failure')) || '', /The reply failed: The provider is unreachable/);
  });

  it('keeps a screenshot of the chat for the README', async function () {
    // A new visitor (fresh peer id) and a short, friendly conversation.
    await page.evaluate(() => localStorage.removeItem('clawflow.webchat:/clawflow/chat:peer'));
    await page.reload();
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'online');
    assert.strictEqual((await page.$$('#log .msg')).length, 0);
    const count = seen.length;
    await type('What can you do?');
    const msg = await lastSeen(count + 1);
    helper.getNode('out').receive({
      ...msg,
      payload:
        "I'm a **clawflow** flow running inside Node-RED. I can:\n\n" +
        '- answer with an LLM, streaming as it writes\n- call tools that are wired in your flow\n- keep this chat across reloads\n\n' +
        "```js\nreturn { payload: 'hi' };\n```",
    });
    await page.waitForSelector('#log .msg.bot pre');
    await type('echo nice, no setup at all');
    await page.waitForSelector('#log .msg.bot >> text=nice, no setup at all');
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    // CLAWFLOW_SCREENSHOTS=1 refreshes the README image; otherwise the shot goes to a temp dir.
    const file = process.env.CLAWFLOW_SCREENSHOTS === '1'
      ? path.resolve(__dirname, '..', '..', 'docs', 'images', 'webchat.png')
      : path.join(profile, 'webchat.png');
    await page.screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 10_000);
  });

  it('keeps a message the flow did not take pending and sends it again (decision 0170)', async function () {
    // A session node (simulated) is deployed: webchat in waits for the hand-off, which the
    // test refuses once (the node was closing) and then gives.
    const release = acceptHandoffs();
    try {
      const count = seen.length;
      await type('take me eventually');
      const first = await lastSeen(count + 1);
      assert.ok(first[HANDOFF_PROP], 'webchat in tagged the message');
      assert.ok(cancelHandoff(first[HANDOFF_PROP]));
      // Not acked: the bubble stays "waiting to send" and the page sends it again after the retry frame.
      const again = await lastSeen(count + 2);
      assert.strictEqual(again.payload, 'take me eventually');
      assert.strictEqual(await page.isVisible('#log .msg.user.pending >> text=take me eventually'), true);
      assert.ok(handedOff(again[HANDOFF_PROP]));
      await page.waitForSelector('#log .msg.user:not(.pending) >> text=take me eventually');
      assert.strictEqual(await page.$('#log .msg.user.pending'), null);
      assert.strictEqual((await userTexts()).filter((t) => t === 'take me eventually').length, 1);
    } finally {
      release();
    }
  });
});

/** Poll (no fixed sleep) until `fn` is truthy. */
async function waitUntil(fn: () => unknown, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition never became true');
    await new Promise((r) => setTimeout(r, 20));
  }
}
