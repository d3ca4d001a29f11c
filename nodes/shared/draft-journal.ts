/**
 * The draft journal of one channel-out node (src/channels/draft-journal.ts): a JSON file under
 * `<userDir>/clawflow/drafts/`, named by the node id, which survives restarts. Without a user
 * dir (the test helper) there is no journal and nothing to sweep.
 */
import path from 'path';
import type { Node, NodeAPI } from 'node-red';
import { KeyValueDraftJournal } from '../../src/channels/draft-journal';
import { FileKeyValueStore } from '../../src/store/kv';

export function draftJournalFor(RED: NodeAPI, node: Node, onError: (err: unknown) => void): KeyValueDraftJournal | undefined {
  const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
  if (!userDir) return undefined;
  return new KeyValueDraftJournal(FileKeyValueStore.inDir(path.join(userDir, 'clawflow', 'drafts'), node.id), onError);
}
