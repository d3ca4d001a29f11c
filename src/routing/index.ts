/**
 * Routing: the Channel layer's access rules (DM policy with pairing, allowlists, group
 * mention gating with pattern mentions and group context, bot loop protection, flood control). One public entry for the node and for other modules.
 */
export * from './types';
export { RouteFilter, type RouteFilterOptions, type ControlResult } from './route-filter';
export { PairingBook, type PairingBookOptions, type PairingListing, type ApproveOutcome, type RevokeOutcome } from './pairing-book';
export { FloodGate, type FloodGateOptions, type FloodVerdict } from './flood-gate';
export { IdList, parseIdList } from './id-list';
export { newPairingCode, normalizeCode, looksLikeCode, CODE_ALPHABET, CODE_LENGTH } from './pairing-code';
export { runPairCommand, peerLabel } from './pair-command';
export { GroupContextBuffer, groupKey, type GroupContextOptions } from './group-context';
export { MentionPatterns, parseMentionPatterns, patternProblem, MAX_PATTERN_LENGTH, MAX_PATTERNS, MAX_TEXT_TESTED } from './mention-patterns';
export { BotLoopGuard, type BotLoopOptions, type BotLoopVerdict } from './bot-loop';
