/**
 * `clawflow-discord-bot`: the config node that owns the one discord.js client of a bot token.
 * `discord in` and `discord out` nodes register with it; the first registration logs in, close
 * (redeploy) destroys the client before the next flow's node logs in. Its status (connecting /
 * ready as <bot> / reconnecting / error with the fix) is shown on every registered node.
 * The connection logic is in src/channels/discord/.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import type { DiscordMessage } from '../src/channels/discord';
import { DiscordConnection, type DiscordBotHandle, type DiscordBotUser, type DiscordFailure, type DiscordStatus, type MalformedPacket, type StatusShape } from '../src/channels/discord';

interface DiscordBotDef extends NodeDef {
  /** REST base URL; empty = Discord's own. A proxy or a test fake goes here. */
  apiUrl?: string;
}

type DiscordBotNode = Node & DiscordBotHandle;

const TYPE = 'clawflow-discord-bot';

export = function (RED: NodeAPI) {
  const t = (key: string, subs?: Record<string, unknown>) => RED._(`${TYPE}.${key}`, subs as any);

  function DiscordBotConfigNode(this: DiscordBotNode, config: DiscordBotDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const label = config.name || node.id;
    const token = String((node.credentials as { token?: string } | undefined)?.token ?? '').trim();
    const apiUrl = (config.apiUrl ?? '').trim().replace(/\/+$/, '') || undefined;
    const users = new Set<DiscordBotUser>();
    const conn = new DiscordConnection({ token, apiUrl });
    node.connection = conn;
    let lastLogged = '';

    node.describe = (f: DiscordFailure) => {
      const detail = f.code ? `${f.code} ${f.detail}` : f.detail;
      return t(`errors.${f.kind}`, { name: label, detail });
    };

    node.statusObject = (): StatusShape => {
      const s = conn.status;
      if (!token) return { fill: 'red', shape: 'ring', text: t('status.noToken') };
      switch (s.state) {
        case 'ready':
          // A reply was refused with 401 although the gateway still accepts the bot.
          if (s.restFailure) return { fill: 'red', shape: 'ring', text: t(`status.failed.${s.restFailure.kind}`, { code: s.restFailure.code ?? '' }) };
          if (s.rateLimitedMs) return { fill: 'yellow', shape: 'dot', text: t('status.rateLimited', { bot: s.botName, seconds: Math.ceil(s.rateLimitedMs / 1000) }) };
          return { fill: 'green', shape: 'dot', text: t('status.ready', { bot: s.botName }) };
        case 'connecting':
          return { fill: 'yellow', shape: 'ring', text: t('status.connecting') };
        case 'reconnecting':
          return { fill: 'yellow', shape: 'ring', text: t('status.reconnecting') };
        case 'failed':
          return { fill: 'red', shape: 'ring', text: t(`status.failed.${s.failure?.kind ?? 'other'}`, { code: s.failure?.code ?? '' }) };
        default:
          return { fill: 'grey', shape: 'ring', text: t('status.stopped') };
      }
    };

    const broadcast = () => {
      const s = node.statusObject();
      for (const u of users) u.status(s);
    };

    conn.on('status', (s: DiscordStatus) => {
      broadcast();
      // Log each distinct problem once, not every retry. (A REST 401 on a reply, `restFailure`,
      // is logged by the out node that sent it, with done(err); here it is the status only.)
      const problem = s.failure ? node.describe(s.failure) : '';
      if (problem && problem !== lastLogged) {
        lastLogged = problem;
        if (s.state === 'failed') node.error(problem);
        else node.warn(problem);
      }
      if (s.state === 'ready') lastLogged = '';
    });
    // A packet discord.js could not parse was skipped; the client goes on.
    conn.on('malformed', (m: MalformedPacket) => node.warn(t('warnings.malformed', { event: m.event, detail: m.detail })));
    conn.on('message', (message: DiscordMessage) => {
      const botId = conn.status.botId;
      if (!botId) return;
      for (const u of users) {
        try {
          u.onDiscordMessage?.(message, botId);
        } catch (err) {
          node.error(err);
        }
      }
    });

    node.register = (user) => {
      users.add(user);
      user.status(node.statusObject());
      if (!token) return;
      conn.start();
    };
    node.deregister = (user) => {
      users.delete(user);
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      users.clear();
      conn.removeAllListeners();
      conn.stop().then(
        () => done(),
        () => done(),
      );
    });
  }

  RED.nodes.registerType(TYPE, DiscordBotConfigNode as any, {
    credentials: { token: { type: 'password' } },
  });
};
