// Mocha root hooks: after the whole run, say plainly which suites were skipped and why.
import { skippedSuites } from './services';

export const mochaHooks = {
  afterAll(): void {
    if (skippedSuites.length === 0) return;
    const lines = skippedSuites.map((s) => `  - ${s.suite}: ${s.why}`);
    // eslint-disable-next-line no-console
    console.log(`\nSkipped suites (system service missing on this machine):\n${lines.join('\n')}\n`);
  },
};
