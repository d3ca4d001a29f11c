/**
 * The Node-RED editor as a user sees it, in headless Chromium against a real Node-RED with this
 * package installed (started by the test, like `npm start`): our palette category and nodes,
 * adding a node by dragging it from the palette, its edit dialog (a bad value marks it red with
 * a reason, a good one clears it), its help in the sidebar, Import > Examples > quick start,
 * and Deploy. With CLAWFLOW_SCREENSHOTS=1 it refreshes the README's editor screenshots.
 */
import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Page } from 'playwright-core';
import { launchBrowser, type BrowserSession } from '../support/browser';
import { registeredTypes, repoRoot, startNodeRed, type NodeRedProcess } from '../support/node-red-process';
import { chromiumPath, hasChromium, needService } from '../support/services';

const QUICK_START = '01 Quick start - web chat';
const shots = process.env.CLAWFLOW_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs', 'images') : fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-shots-'));

/** Ids of the editor's nodes (flow and config nodes) of one type. */
function idsOfType(page: Page, type: string): Promise<string[]> {
  return page.evaluate((t) => {
    const ids: string[] = [];
    // No named helpers in here: tsx would wrap them in __name(), which the page does not have.
    const R = (window as any).RED;
    R.nodes.eachNode((n: any) => void (n.type === t && ids.push(n.id)));
    R.nodes.eachConfig((n: any) => void (n.type === t && ids.push(n.id)));
    return ids;
  }, type);
}

/** The editor's view of one node: the properties a test looks at. */
function editorNode(page: Page, id: string): Promise<{ name: string; dmPolicy: string; allowFrom: string; valid: boolean; validationErrors: string[] }> {
  return page.evaluate((nid) => {
    const n = (window as any).RED.nodes.node(nid);
    return { name: n.name, dmPolicy: n.dmPolicy, allowFrom: n.allowFrom, valid: n.valid, validationErrors: n.validationErrors || [] };
  }, id);
}

describe('Node-RED editor with clawflow (Chromium)', function () {
  this.timeout(120_000);
  let nr: NodeRedProcess;
  let browser: BrowserSession;
  let page: Page;
  let filterId: string;

  before(async function () {
    needService(this, 'Node-RED editor in Chromium', hasChromium(), `no Chromium at ${chromiumPath} (apt-get install -y chromium)`);
    if (!fs.existsSync(path.join(repoRoot, 'dist', 'nodes'))) throw new Error('dist/nodes is missing: run `npm run build` (npm test does it)');
    // Telemetry off: no consent dialog over the editor and no update check leaving the machine.
    nr = await startNodeRed({ linkPackage: true, settings: { telemetry: { enabled: false } } });
    browser = await launchBrowser({ viewport: { width: 1500, height: 640 } });
    page = browser.page;
    await page.goto(nr.url + '/');
    // The editor is ready when our node types are registered and the workspace is drawn.
    await page.waitForFunction(() => !!(window as any).RED?.nodes?.getType?.('clawflow-route-filter'), null, { timeout: 60_000 });
    await page.waitForSelector('#red-ui-workspace-chart svg');
  });

  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  it('shows the clawflow palette category with every node of the package', async () => {
    await page.waitForSelector('#red-ui-palette-container-clawflow', { state: 'visible' });
    const header = (await page.textContent('#red-ui-palette-container-clawflow .red-ui-palette-header')) || '';
    assert.match(header, /clawflow/);
    const inPalette = await page.$$eval('#red-ui-palette-base-category-clawflow .red-ui-palette-node', (els) =>
      els.map((e) => e.getAttribute('data-palette-type')),
    );
    const expected = registeredTypes().filter((t) => t.category !== 'config').map((t) => t.type);
    assert.ok(expected.length >= 3, 'the package registers node types');
    assert.deepStrictEqual([...inPalette].sort(), [...expected].sort());
    // Config node types are known to the editor too (they appear in the config sidebar).
    for (const t of registeredTypes().filter((r) => r.category === 'config')) {
      assert.ok(await page.evaluate((type) => !!(window as any).RED.nodes.getType(type), t.type), `${t.type} registered in the editor`);
    }
    // Each palette node has its own icon (not Node-RED's default arrow).
    const icons = await page.$$eval('#red-ui-palette-base-category-clawflow .red-ui-palette-icon', (els) =>
      els.map((e) => getComputedStyle(e).backgroundImage),
    );
    for (const icon of icons) assert.match(icon, /icons\/@clawflow\/node-red\//, `palette icon ${icon}`);
  });

  it('adds a route filter by dragging it from the palette', async () => {
    const item = page.locator('#red-ui-palette-base-category-clawflow .red-ui-palette-node[data-palette-type="clawflow-route-filter"]');
    await item.scrollIntoViewIfNeeded();
    const from = (await item.boundingBox())!;
    const chart = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
    // jQuery UI's draggable follows real mouse events: press, move in steps, release.
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(chart.x + 300, chart.y + 200, { steps: 12 });
    await page.mouse.move(chart.x + 320, chart.y + 220, { steps: 4 });
    await page.mouse.up();
    const ids = await idsOfType(page, 'clawflow-route-filter');
    assert.strictEqual(ids.length, 1, 'one route filter on the workspace');
    filterId = ids[0];
    await page.waitForSelector(`[id="${filterId}"] .red-ui-flow-node`);
    const n = await editorNode(page, filterId);
    assert.strictEqual(n.dmPolicy, 'pairing', 'safe default DM policy');
    assert.strictEqual(n.valid, true, 'defaults are valid');
  });

  it('edits it: a bad value marks the node red with a reason, a good one clears it', async () => {
    async function openDialog(): Promise<void> {
      await page.dblclick(`[id="${filterId}"] .red-ui-flow-node`);
      await page.waitForSelector('#node-input-allowFrom', { state: 'visible' });
    }
    await openDialog();
    await page.fill('#node-input-name', 'friends only');
    await page.selectOption('#node-input-dmPolicy', 'allowlist');
    await page.fill('#node-input-allowFrom', 'alice');
    await page.click('#node-dialog-ok');
    await page.waitForSelector('#node-input-allowFrom', { state: 'detached' });
    let n = await editorNode(page, filterId);
    assert.strictEqual(n.name, 'friends only');
    assert.strictEqual(n.dmPolicy, 'allowlist');
    assert.strictEqual(n.valid, false, 'an entry without channel: is invalid');
    // With a reason the user can act on (from the node's own message catalog, not a raw key).
    assert.ok(n.validationErrors.some((e) => /channel:id/.test(e)), `a readable reason: ${n.validationErrors}`);
    // The editor shows the red error marker on the node.
    await page.waitForSelector(`[id="${filterId}"] .red-ui-flow-node-error:not(.hide)`, { state: 'attached' });
    assert.ok(await page.$eval(`[id="${filterId}"] .red-ui-flow-node-error`, (e) => getComputedStyle(e).display !== 'none'));

    await openDialog();
    await page.fill('#node-input-allowFrom', 'telegram:42, webchat:*');
    await page.click('#node-dialog-ok');
    await page.waitForSelector('#node-input-allowFrom', { state: 'detached' });
    n = await editorNode(page, filterId);
    assert.strictEqual(n.valid, true, `fixed: ${n.validationErrors}`);
    assert.strictEqual(n.allowFrom, 'telegram:42, webchat:*');
    const label = await page.textContent(`[id="${filterId}"] .red-ui-flow-node-label`);
    assert.match(label || '', /friends only/);
  });

  it('gives a readable reason for a bad value in every node that validates one', async () => {
    const cases: [string, string, unknown, Record<string, unknown>][] = [
      ['clawflow-telegram-bot', 'apiRoot', 'not a url', {}],
      ['clawflow-telegram-bot', 'webhookPath', 'no-slash', { mode: 'webhook' }],
      ['clawflow-telegram-out', 'editInterval', 100, {}],
      ['clawflow-sessions', 'concurrency', 0, {}],
      ['clawflow-sessions', 'redisUrl', 'http://x', { store: 'redis' }],
      ['clawflow-mcp-server', 'transport', 'carrier-pigeon', {}],
      ['clawflow-discord-bot', 'apiUrl', 'nope', {}],
    ];
    const reasons = await page.evaluate((all) => {
      const R = (window as any).RED;
      return all.map(([type, prop, bad, extra]) => {
        const def = R.nodes.getType(type);
        const node: any = { type, _: def._, ...extra };
        const r = def.defaults[prop].validate.call(node, bad, { prop });
        return `${type}.${prop}: ${r}`;
      });
    }, cases);
    for (const r of reasons) {
      assert.doesNotMatch(r, /: (true|false|undefined)$/, `no reason: ${r}`);
      assert.doesNotMatch(r, /: clawflow-[a-z-]+\./, `a raw message key instead of text: ${r}`);
    }
  });

  it('shows the node help in the sidebar', async () => {
    await page.click(`[id="${filterId}"] .red-ui-flow-node`);
    await page.click('#red-ui-tab-help-link-button'); // the sidebar's help (book) button
    await page.waitForFunction(() => /Decides who may talk to your assistant/.test(document.querySelector('#red-ui-sidebar-content')?.textContent || ''));
    const text = (await page.textContent('#red-ui-sidebar-content')) || '';
    for (const part of ['Inputs', 'Outputs', 'Details']) assert.ok(text.includes(part), `help has ${part}`);
    await page.screenshot({ path: path.join(shots, 'editor-help.png') });
  });

  it('labels every output port; tool ports carry the tool name', async () => {
    const example = fs.readFileSync(path.join(repoRoot, 'examples', '02 Telegram assistant with tools.json'), 'utf8');
    const labels = await page.evaluate((json) => {
      const R = (window as any).RED;
      R.view.importNodes(JSON.parse(json), { addFlow: true, generateIds: true });
      const out: Record<string, string[]> = {};
      R.nodes.eachNode((n: any) => {
        if (!String(n.type).startsWith('clawflow-') || !n.outputs) return;
        const def = n._def;
        const list: string[] = [];
        for (let i = 0; i < n.outputs; i++) list.push(typeof def.outputLabels === 'function' ? def.outputLabels.call(n, i) : (def.outputLabels || [])[i]);
        out[n.type + (n.type === 'clawflow-llm' ? ':' + n.name : '')] = list;
      });
      return out;
    }, example);
    for (const [type, list] of Object.entries(labels)) {
      for (const [i, l] of list.entries()) assert.ok(typeof l === 'string' && l.trim() && !/^clawflow-/.test(l), `${type} port ${i + 1} has a readable label (${l})`);
    }
    const llm = labels['clawflow-llm:assistant with tools'];
    assert.ok(llm, 'the example llm node was imported');
    assert.strictEqual(llm.length, 4);
    assert.match(llm[2], /get_time/);
    assert.match(llm[3], /weather/);
    // Leave the workspace as it was for the next test: undo the import (its tab and config nodes).
    const left = await page.evaluate(() => {
      const R = (window as any).RED;
      R.history.pop();
      let tools = 0;
      R.nodes.eachNode((n: any) => void (n.type === 'clawflow-tool-result' && tools++));
      return tools;
    });
    assert.strictEqual(left, 0, 'the import was undone');
  });

  it('serves help and labels in Chinese too', async () => {
    const res = await fetch(`${nr.url}/nodes`, { headers: { Accept: 'text/html', 'Accept-Language': 'zh-CN' } });
    const html = await res.text();
    for (const { type } of registeredTypes()) assert.ok(html.includes(`data-help-name="${type}"`), `help for ${type}`);
    const cat = await (await fetch(`${nr.url}/locales/@clawflow/node-red/clawflow-route-filter?lng=zh-CN`)).json() as any;
    assert.match(JSON.stringify(cat), /[\u4e00-\u9fff]/, 'zh-CN messages are Chinese');
  });

  it('imports the quick start from Import > Examples and deploys it', async () => {
    // Nothing over the header (an edit tray or a fading shade) before using the menu.
    await page.waitForSelector('#red-ui-header-shade', { state: 'hidden' });
    await page.waitForSelector('.red-ui-editor .red-ui-tray', { state: 'detached' });
    await page.click('#red-ui-header-button-sidemenu');
    await page.click('#menu-item-import');
    await page.waitForSelector('#red-ui-clipboard-dialog-import-tabs', { state: 'visible' });
    await page.click('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples a');
    const tab = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    await tab.locator('.red-ui-treeList-label-text', { hasText: '@clawflow/node-red' }).click();
    await tab.locator('.red-ui-treeList-label-text', { hasText: QUICK_START }).click();
    await page.click('#red-ui-clipboard-dialog-ok');
    await page.waitForSelector('#red-ui-clipboard-dialog-import-tabs', { state: 'hidden' });
    // The editor fetches the example after the dialog closes, then adds its nodes.
    await page.waitForFunction(() => {
      let found = false;
      (window as any).RED.nodes.eachNode((n: any) => void (n.type === 'clawflow-webchat-in' && (found = true)));
      return found;
    });

    const example = JSON.parse(fs.readFileSync(path.join(repoRoot, 'examples', `${QUICK_START}.json`), 'utf8')) as any[];
    const types = example.map((n) => n.type).filter((t) => t.startsWith('clawflow-'));
    for (const t of new Set(types)) {
      assert.ok((await idsOfType(page, t)).length >= 1, `imported a ${t}`);
    }
    // Every imported node is valid as it is: nothing red before the user filled anything in.
    const invalid = await page.evaluate(() => {
      const bad: string[] = [];
      const R = (window as any).RED;
      R.nodes.eachNode((n: any) => { if (n.valid === false) bad.push(`${n.type} ${n.validationErrors}`); });
      R.nodes.eachConfig((n: any) => { if (n.valid === false) bad.push(`${n.type} ${n.validationErrors}`); });
      return bad;
    });
    assert.deepStrictEqual(invalid, []);

    const before = nr.log().length;
    await page.click('#red-ui-header-button-deploy');
    const note = page.locator('.red-ui-notification').filter({ hasText: /deployed/i }).first();
    await note.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match((await note.textContent()) || '', /Successfully deployed/);
    assert.ok(await note.evaluate((e) => e.classList.contains('red-ui-notification-success')), 'a success notification');

    // The runtime has the flow and started it without errors.
    const deadline = Date.now() + 20_000;
    while (!/Started flows/.test(nr.log().slice(before)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const log = nr.log().slice(before);
    assert.match(log, /Started flows/);
    assert.deepStrictEqual(log.split('\n').filter((l) => /\[error\]/.test(l)), []);
    const flows = (await (await fetch(`${nr.url}/flows`)).json()) as any[];
    for (const t of new Set(types)) assert.ok(flows.some((n) => n.type === t), `deployed a ${t}`);

    // The web chat page of the deployed flow answers.
    const chat = await fetch(`${nr.url}/clawflow/chat/`);
    assert.strictEqual(chat.status, 200);

    // The picture for the README: nothing selected, no notifications, no sidebar, the flow in view.
    await page.keyboard.press('Escape');
    await page.evaluate(() => {
      const R = (window as any).RED;
      R.view.select('');
      // The example brings its own flow tab: show it.
      R.nodes.eachNode((n: any) => void (n.type === 'clawflow-webchat-in' && R.workspaces.show(n.z)));
      R.menu.setSelected('menu-item-sidebar', false);
      const chart = document.getElementById('red-ui-workspace-chart')!;
      chart.scrollLeft = 0;
      chart.scrollTop = 0;
    });
    await page.waitForSelector('.red-ui-notification', { state: 'detached', timeout: 15_000 }).catch(() => undefined);
    await page.waitForSelector('[id] .red-ui-flow-node-status-label >> text=ready at', { state: 'attached' });
    await page.screenshot({ path: path.join(shots, 'editor-quickstart.png') });
    assert.ok(fs.statSync(path.join(shots, 'editor-quickstart.png')).size > 20_000);
    assert.deepStrictEqual(browser.pageErrors, [], 'no errors in the editor page');
  });

  it('switching the provider empties the old provider\'s base URL and model', async () => {
    const [id] = await idsOfType(page, 'clawflow-llm-provider');
    assert.ok(id, 'the quick start brought a provider config');
    // As an older flow has it: Ollama's address and model filled in.
    await page.evaluate((pid) => {
      const n = (window as any).RED.nodes.node(pid);
      n.baseUrl = 'http://127.0.0.1:11434';
      n.model = 'llama3.2';
      (window as any).RED.editor.editConfig('', 'clawflow-llm-provider', pid);
    }, id);
    await page.waitForSelector('#node-config-input-provider option[value="openai"]', { state: 'attached' });
    assert.strictEqual(await page.inputValue('#node-config-input-baseUrl'), 'http://127.0.0.1:11434');
    await page.selectOption('#node-config-input-provider', 'openai');
    assert.strictEqual(await page.inputValue('#node-config-input-baseUrl'), '', 'the Ollama address is gone');
    assert.strictEqual(await page.inputValue('#node-config-input-model'), '', 'the Ollama model is gone');
    assert.strictEqual(await page.getAttribute('#node-config-input-baseUrl', 'placeholder'), 'https://api.openai.com/v1');
    assert.strictEqual(await page.getAttribute('#node-config-input-model', 'placeholder'), 'gpt-4o-mini');
    await page.click('#node-config-dialog-ok');
    await page.waitForSelector('#node-config-input-provider', { state: 'detached' });
    const saved = await page.evaluate((pid) => {
      const n = (window as any).RED.nodes.node(pid);
      return { provider: n.provider, baseUrl: n.baseUrl, model: n.model };
    }, id);
    assert.deepStrictEqual(saved, { provider: 'openai', baseUrl: '', model: '' });

    // Opening a config and pressing Done changes nothing (a preset and its fields survive).
    await page.evaluate((pid) => {
      const n = (window as any).RED.nodes.node(pid);
      Object.assign(n, { provider: 'openai-compatible', preset: 'kimi', baseUrl: 'http://127.0.0.1:9/v1', model: 'kimi-k2' });
      (window as any).RED.editor.editConfig('', 'clawflow-llm-provider', pid);
    }, id);
    await page.waitForSelector('#node-config-input-preset option[value="kimi"]', { state: 'attached' });
    await page.click('#node-config-dialog-ok');
    await page.waitForSelector('#node-config-input-provider', { state: 'detached' });
    const kept = await page.evaluate((pid) => {
      const n = (window as any).RED.nodes.node(pid);
      return { provider: n.provider, preset: n.preset, baseUrl: n.baseUrl, model: n.model };
    }, id);
    assert.deepStrictEqual(kept, { provider: 'openai-compatible', preset: 'kimi', baseUrl: 'http://127.0.0.1:9/v1', model: 'kimi-k2' });
  });

  it('no example leaves a config node that the deploy would call unused', async () => {
    for (const file of fs.readdirSync(path.join(repoRoot, 'examples')).filter((f) => f.endsWith('.json'))) {
      const json = fs.readFileSync(path.join(repoRoot, 'examples', file), 'utf8');
      const unused = await page.evaluate((text) => {
        const R = (window as any).RED;
        const before = new Set<string>();
        R.nodes.eachConfig((n: any) => void before.add(n.id));
        R.view.importNodes(JSON.parse(text), { addFlow: true, generateIds: true });
        // The editor's own rule at Deploy ("You have some unused configuration nodes").
        const found: string[] = [];
        R.nodes.eachConfig((n: any) => {
          if (!before.has(n.id) && n._def.hasUsers !== false && n.users.length === 0) found.push(`${n.type} '${n.name || n.id}'`);
        });
        R.history.pop();
        return found;
      }, json);
      assert.deepStrictEqual(unused, [], `${file}: config nodes with no users`);
    }
  });
});
