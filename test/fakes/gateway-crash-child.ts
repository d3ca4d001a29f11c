/**
 * A process that runs a session gateway on a file store and gets killed with SIGKILL by the
 * persistence test. It submits messages one after another and prints `ACK <text>` once each is
 * accepted (journaled); turns of sessions `s0`, `s2`, … are answered at once, the others hang.
 * Usage: node -r tsx/cjs gateway-crash-child.ts <store dir>
 */
import { FileSessionStore, Gateway } from '../../src/gateway';
import { chatOf } from './gateway-worker';

async function main(): Promise<void> {
  const gw = new Gateway({ store: new FileSessionStore(process.argv[2]), concurrency: 3, maxWaitingPerSession: 1000 });
  gw.on('turn', (t) => {
    if (Number(t.key.split(':s')[1]) % 2 === 0) void gw.endTurn(t, { reply: `re: ${t.text}` });
  });
  await gw.start();
  for (let i = 0; i < 2000; i++) {
    const text = `m${i}`;
    const r = await gw.submit(chatOf(`s${i % 4}`, { text }));
    if (r.status === 'accepted') process.stdout.write(`ACK ${text}\n`);
  }
  process.stdout.write('END\n');
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
