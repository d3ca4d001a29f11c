/**
 * Node-test helpers for the Telegram nodes: a flow with one config node pointed at a fake Bot
 * API, and the settings that make backoffs short. Reusable by other areas' tests (examples,
 * benchmarks) that need a Telegram bot in a flow.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { FakeTelegram } from './telegram-bot-api';

/** helper.settings() values: a temp user dir and short backoffs. */
export function telegramTestSettings(userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-tg-'))) {
  return {
    userDir,
    clawflowTelegram: { pollTimeoutSeconds: 5, backoffMs: 50, backoffMaxMs: 200, conflictBackoffMs: 100, conflictBackoffMaxMs: 300 },
  };
}

/** A clawflow-telegram-bot config node for `fake` (id `bot`), and its credentials. */
export function botConfig(fake: FakeTelegram, extra: Record<string, unknown> = {}) {
  return {
    node: { id: 'bot', type: 'clawflow-telegram-bot', name: 'test bot', mode: 'polling', apiRoot: fake.apiRoot, ...extra },
    credentials: { bot: { token: fake.token } } as Record<string, Record<string, string>>,
  };
}
