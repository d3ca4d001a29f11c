/**
 * kill -9 of a real Node-RED process running a Discord bot (fake gateway + REST): after the
 * restart on the same user dir the bot identifies again on the gateway and answers a message
 * sent after the restart; the first process's dead socket does not linger as a second bot.
 */
import assert from 'assert';
import { FakeDiscord } from '../fakes/discord-fake';
import { OpenAIFake } from '../fakes/openai-fake';
import { coveredBy, discordFlow, echoTurn } from '../support/e2e-process-flows';
import {
  crashLines, deploy, flowsStarted, killHard, makeUserDir, snapshotPackage, startOn, stopQuietly, unexpectedErrors, waitUntil,
  type PackageSnapshot,
} from '../support/e2e-process-harness';
import type { NodeRedProcess } from '../support/node-red-process';

describe('e2e process: Discord bot survives kill -9', function () {
  this.timeout(90_000);
  let snap: PackageSnapshot;
  let discord: FakeDiscord;
  let llm: OpenAIFake;
  let nr: NodeRedProcess | undefined;

  before(async () => {
    snap = snapshotPackage();
    discord = await FakeDiscord.start();
    llm = await new OpenAIFake({ apiKey: 'sk-e2e' }).start();
    llm.fallback = (req) => ({ text: echoTurn(req.body) });
  });
  after(async () => {
    await stopQuietly(nr);
    await discord?.close();
    await llm?.close();
    snap?.remove();
  });

  it('identifies again after the restart and answers a message sent then', async () => {
    const userDir = makeUserDir(snap, 'discord');
    nr = await startOn(userDir);
    await deploy(nr, discordFlow({ apiUrl: discord.apiUrl, token: discord.token }, { llmUrl: llm.url, llmKey: 'sk-e2e', store: 'file', stream: false }));
    await flowsStarted(nr);
    const identified = () => discord.connections.filter((c) => c.kind === 'identify').length;
    await discord.until(() => identified() === 1, 20_000);

    discord.userMessage({ dm: true, content: 'before the kill' });
    await discord.until(() => discord.sent.some((m) => coveredBy(m.content).includes('before the kill')), 20_000);

    await killHard(nr);
    await discord.until(() => discord.openSockets === 0, 10_000); // the kernel closed the dead process's socket
    nr = await startOn(userDir);
    await flowsStarted(nr);
    await discord.until(() => identified() === 2 && discord.openSockets === 1, 20_000);

    discord.userMessage({ dm: true, content: 'after the restart' });
    await discord.until(() => discord.sent.some((m) => coveredBy(m.content).includes('after the restart')), 20_000);

    // One answer per message, to the DM channel, and only for what was sent.
    const answers = discord.sent.filter((m) => coveredBy(m.content).length > 0);
    assert.deepStrictEqual(answers.map((m) => coveredBy(m.content)).flat().sort(), ['after the restart', 'before the kill']);
    assert.ok(answers.every((m) => m.channelId === discord.dmChannelId()), 'answered in the DM');
    await waitUntil(() => discord.openSockets === 1, 'one gateway socket', 5_000);
    assert.deepStrictEqual(crashLines(nr.log()), []);
    assert.deepStrictEqual(unexpectedErrors(nr.log()), []);
  });
});
