import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'fs/promises';
import os from 'os';
import path from 'path';
import { RouteFilter, looksLikeCode, newPairingCode, normalizeCode, CODE_ALPHABET, type Rejected, type RouteFilterOptions } from '../../../src/routing';
import { FileKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '../../../src/store/kv';
import { discordDm, fakeClock, pairCommand, telegramDm, webchat } from './envelopes';

const HOUR = 60 * 60_000;

function setup(opts: Partial<RouteFilterOptions> = {}, store: KeyValueStore = new MemoryKeyValueStore()) {
  const clock = fakeClock();
  const f = new RouteFilter({ store, now: clock.now, owners: 'telegram:1 discord:900', rateLimit: 0, ...opts });
  return { f, clock, store };
}

async function codeFor(f: RouteFilter, env: ReturnType<typeof telegramDm>): Promise<string> {
  const d = (await f.decide(env)) as Rejected;
  assert.ok(d.pairing, `expected a pairing decision, got ${d.reason}`);
  return d.pairing.code;
}

describe('routing/pairing codes', () => {
  it('are 8 characters of the unambiguous alphabet and differ from call to call', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const c = newPairingCode();
      assert.match(c, /^[A-HJ-NP-Z2-9]{8}$/);
      assert.ok(looksLikeCode(c));
      seen.add(c);
    }
    assert.equal(seen.size, 200);
    for (const ch of '01OIL') assert.ok(!CODE_ALPHABET.includes(ch), ch);
  });

  it('normalise: lower case, spaces and dashes are forgiven', () => {
    assert.equal(normalizeCode(' abcd-efgh '), 'ABCDEFGH');
    assert.ok(!looksLikeCode('ABC'));
    assert.ok(!looksLikeCode('ABCDEFG0'));
  });
});

describe('routing/pairing: issue, approve, expire, revoke', () => {
  it('repeated messages from a stranger do not mint new codes (pairing_pending repeats the code)', async () => {
    const { f, clock } = setup();
    const first = (await f.decide(telegramDm('42'))) as Rejected;
    clock.advance(10 * 60_000);
    const again = (await f.decide(telegramDm('42', 'hello??'))) as Rejected;
    assert.equal(first.reason, 'pairing_required');
    assert.equal(again.reason, 'pairing_pending');
    assert.equal(again.pairing?.code, first.pairing?.code);
    assert.equal(again.reply?.key, 'pairingPending');
    assert.equal(again.reply?.params.minutes, 50);
  });

  it('two messages at once still give one code', async () => {
    const { f } = setup();
    const [a, b] = (await Promise.all([f.decide(telegramDm('42')), f.decide(telegramDm('42'))])) as Rejected[];
    assert.deepEqual([a.reason, b.reason].sort(), ['pairing_pending', 'pairing_required']);
    assert.equal(a.pairing?.code, b.pairing?.code);
  });

  it('the owner approves by chat command; the requester is told, then accepted as paired', async () => {
    const { f } = setup();
    const code = await codeFor(f, telegramDm('42'));
    const d = (await f.decide(telegramDm('1', `/pair approve ${code.toLowerCase()}`, { command: pairCommand(`approve ${code.toLowerCase()}`) }))) as Rejected;
    assert.equal(d.reason, 'pairing_command');
    assert.equal(d.reply?.key, 'approved');
    assert.equal(d.reply?.params.peer, 'telegram:42 (tg user 42)');
    assert.equal(d.notices?.length, 1);
    const notice = d.notices![0];
    assert.equal(notice.reason, 'pairing_approved');
    assert.equal(notice.chat.chatId, '42');
    assert.equal(notice.chat.channel, 'telegram');
    assert.equal(notice.reply.key, 'approvedNotice');
    const after = await f.decide(telegramDm('42', 'now?'));
    assert.equal(after.accept, true);
    assert.equal(after.reason, 'paired');
  });

  it('an owner on another channel can approve (owners are global, requests are per channel)', async () => {
    const { f } = setup();
    const code = await codeFor(f, webchat('browser-1'));
    const res = await f.decide(discordDm('900', '', { command: pairCommand(`approve ${code}`) }));
    assert.equal((res as Rejected).reply?.key, 'approved');
    assert.equal((await f.decide(webchat('browser-1'))).reason, 'paired');
  });

  it('approval by input (the inject/dashboard path) returns the notice for the requester', async () => {
    const { f } = setup();
    const code = await codeFor(f, discordDm('333444'));
    const res = await f.approve(code);
    assert.equal(res.action, 'approve');
    assert.ok(res.action === 'approve' && res.outcome.ok);
    assert.equal(res.outcome.peer.approvedBy, 'input');
    assert.equal(res.notice?.chat.channel, 'discord');
    assert.equal((await f.decide(discordDm('333444'))).reason, 'paired');
  });

  it('a code sent by the requester does not approve: neither as text nor as /pair approve', async () => {
    const { f } = setup();
    const code = await codeFor(f, telegramDm('42'));
    const asText = (await f.decide(telegramDm('42', code))) as Rejected;
    assert.equal(asText.reason, 'pairing_pending');
    const asCommand = (await f.decide(telegramDm('42', `/pair approve ${code}`, { command: pairCommand(`approve ${code}`) }))) as Rejected;
    assert.equal(asCommand.reason, 'pairing_pending');
    // Another stranger cannot approve it either.
    const third = (await f.decide(telegramDm('43', `/pair approve ${code}`, { command: pairCommand(`approve ${code}`) }))) as Rejected;
    assert.equal(third.reason, 'pairing_required');
    const listing = await f.list();
    assert.ok(listing.action === 'list');
    assert.deepEqual(listing.listing.approved, []);
    assert.equal((await f.decide(telegramDm('42'))).accept, false);
  });

  it('codes expire after the configured time: approve says expired, the stranger gets a new code', async () => {
    const { f, clock } = setup({ codeTtlMs: 5 * 60_000 });
    const code = await codeFor(f, telegramDm('42'));
    clock.advance(5 * 60_000);
    const d = (await f.decide(telegramDm('1', '', { command: pairCommand(`approve ${code}`) }))) as Rejected;
    assert.equal(d.reply?.key, 'codeExpired');
    assert.equal(d.notices, undefined);
    const again = (await f.decide(telegramDm('42'))) as Rejected;
    assert.equal(again.reason, 'pairing_required');
    assert.notEqual(again.pairing?.code, code);
  });

  it('the default lifetime is one hour', async () => {
    const { f, clock } = setup({ codeTtlMs: undefined });
    const code = await codeFor(f, telegramDm('42'));
    clock.advance(HOUR - 1);
    assert.equal((await f.decide(telegramDm('42'))).reason, 'pairing_pending');
    clock.advance(1);
    const res = await f.approve(code);
    assert.ok(res.action === 'approve' && !res.outcome.ok && res.outcome.why === 'expired');
  });

  it('an unknown code is reported as unknown', async () => {
    const { f } = setup();
    const d = (await f.decide(telegramDm('1', '', { command: pairCommand('approve ZZZZZZZZ') }))) as Rejected;
    assert.equal(d.reply?.key, 'codeUnknown');
    assert.equal(d.reply?.params.code, 'ZZZZZZZZ');
  });

  it('pending requests are bounded per channel; expired ones free their slot', async () => {
    const { f, clock } = setup({ maxPendingPerChannel: 2, codeTtlMs: HOUR });
    await codeFor(f, telegramDm('a'));
    clock.advance(1000);
    await codeFor(f, telegramDm('b'));
    const full = (await f.decide(telegramDm('c'))) as Rejected;
    assert.equal(full.reason, 'pairing_queue_full');
    assert.equal(full.reply?.key, 'pairingQueueFull');
    assert.equal(full.pairing, undefined);
    // Another channel has its own bound.
    assert.equal((await f.decide(discordDm('777'))).reason, 'pairing_required');
    clock.advance(HOUR - 500);
    assert.equal((await f.decide(telegramDm('c'))).reason, 'pairing_required');
    assert.equal((await f.summary()).pending, 3);
  });

  it('/pair list shows pending codes and approved peers; /pair revoke removes access', async () => {
    const { f } = setup({ t: (k, p) => `${k}|${Object.values(p).join('|')}` });
    const c1 = await codeFor(f, telegramDm('42'));
    await f.approve(c1);
    const c2 = await codeFor(f, discordDm('555666'));
    const list = (await f.decide(telegramDm('1', '', { command: pairCommand('list') }))) as Rejected;
    assert.equal(list.reason, 'pairing_command');
    assert.equal(
      list.reply?.text,
      ['listPending|1', `listPendingItem|${c2}|discord:555666 (dc user 555666)|60`, 'listApproved|1', 'listApprovedItem|telegram:42 (tg user 42)'].join('\n'),
    );
    const rv = (await f.decide(telegramDm('1', '', { command: pairCommand('revoke telegram:42') }))) as Rejected;
    assert.equal(rv.reply?.text, 'revoked|telegram:42 (tg user 42)');
    const back = (await f.decide(telegramDm('42'))) as Rejected;
    assert.equal(back.reason, 'pairing_required');
    // Revoke by code drops a pending request; revoke of nothing says so.
    const rc = (await f.decide(telegramDm('1', '', { command: pairCommand(`revoke ${c2}`) }))) as Rejected;
    assert.equal(rc.reply?.key, 'revoked');
    assert.equal((await f.decide(discordDm('555666'))).reason, 'pairing_required');
    const none = (await f.decide(telegramDm('1', '', { command: pairCommand('revoke telegram:nobody') }))) as Rejected;
    assert.equal(none.reply?.key, 'revokeUnknown');
  });

  it('revoke by bare id matches that sender on every channel (input path)', async () => {
    const { f } = setup();
    await f.approve(await codeFor(f, telegramDm('5050')));
    await f.approve(await codeFor(f, discordDm('5050')));
    const res = await f.revoke('5050');
    assert.ok(res.action === 'revoke');
    assert.deepEqual(res.outcome.approved.map((p) => p.channel).sort(), ['discord', 'telegram']);
  });

  it('approvals persist across an unload/reload of the filter (file store)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'clawflow-pairing-'));
    try {
      const file = path.join(dir, 'pairing', 'node-1.json');
      const first = setup({}, new FileKeyValueStore(file));
      const code = await codeFor(first.f, telegramDm('42'));
      const pendingCode = await codeFor(first.f, discordDm('777888'));
      await first.f.approve(code);
      assert.match(await readFile(file, 'utf8'), /approved:telegram:42/);

      // A new filter on a new store object over the same file: what a redeploy or restart does.
      const second = setup({}, new FileKeyValueStore(file));
      const listing = await second.f.load();
      assert.deepEqual(listing.approved.map((p) => `${p.channel}:${p.senderId}`), ['telegram:42']);
      assert.equal((await second.f.decide(telegramDm('42'))).reason, 'paired');
      // The pending request survives too: the stranger's code still works after a restart.
      const again = (await second.f.decide(discordDm('777888'))) as Rejected;
      assert.equal(again.reason, 'pairing_pending');
      assert.equal(again.pairing?.code, pendingCode);
      await second.f.revoke('telegram:42');
      const third = setup({}, new FileKeyValueStore(file));
      assert.equal((await third.f.decide(telegramDm('42'))).reason, 'pairing_required');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a corrupt store file is reported with its path on load', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'clawflow-pairing-'));
    try {
      const file = path.join(dir, 'bad.json');
      await writeFile(file, '{not json');
      const { f } = setup({}, new FileKeyValueStore(file));
      await assert.rejects(f.load(), (err: Error) => err.message.includes(file) && /not valid JSON/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
