/**
 * Test plumbing for web chat node tests: loads the three web chat node files plus Node-RED's
 * real function node into node-red-node-test-helper, and routes the helper server's HTTP
 * requests to RED.httpNode (the helper creates RED.httpNode but does not mount it; Node-RED
 * itself mounts it at httpNodeRoot, which is what this reproduces).
 */
import path from 'path';
import { helper, runtimeName } from '../support/node-red';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const webchatNode = require('../../nodes/webchat');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const webchatInNode = require('../../nodes/webchat-in');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const webchatOutNode = require('../../nodes/webchat-out');

/** Node-RED's own function node, from the runtime under test (4.x or 5.x). */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const functionNode = require(
  require.resolve('@node-red/nodes/core/function/10-function.js', { paths: [path.dirname(require.resolve(`${runtimeName}/package.json`))] }),
);

let httpNode: any;
let mountedOn: any;

/** Node modules for helper.load, capturing RED.httpNode on the way. */
export const webchatModules = [
  (RED: any) => {
    httpNode = RED.httpNode;
    return webchatNode(RED);
  },
  webchatInNode,
  webchatOutNode,
  functionNode,
];

/** Call after helper.startServer(): serve RED.httpNode on the helper's server. */
export function mountHttpNode(): void {
  const app = (helper as any)._app;
  if (mountedOn === app) return;
  mountedOn = app;
  app.use((req: any, res: any, next: any) => (httpNode ? httpNode(req, res, next) : next()));
}

export { helper };
