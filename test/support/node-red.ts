/**
 * The one place node tests get Node-RED's test helper from. CLAWFLOW_NODE_RED=5 points it
 * at the node-red 5.x runtime (devDependency alias `node-red-5`), otherwise node-red 4.1.x.
 * test/node-red-5.test.ts re-runs every node test that way in a child process.
 */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const helper = require('node-red-node-test-helper');

export const runtimeName = process.env.CLAWFLOW_NODE_RED === '5' ? 'node-red-5' : 'node-red';
helper.init(require.resolve(runtimeName));

export { helper };

/** Resolve when `node` emits a status whose text matches, or reject after `ms`. */
export function waitForStatus(node: any, match: (s: any) => boolean, ms = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const orig = node.status.bind(node);
    const timer = setTimeout(() => reject(new Error(`status never matched; last: ${JSON.stringify(last)}`)), ms);
    let last: any;
    node.status = (s: any) => {
      last = s;
      orig(s);
      if (match(s)) {
        clearTimeout(timer);
        node.status = orig;
        resolve(s);
      }
    };
  });
}
