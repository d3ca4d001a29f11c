/**
 * Public entry of the clawflow engine (no Node-RED in here). Node-RED users never need it;
 * other modules use it to add providers (see docs/PROVIDERS.md), and tests and benchmarks
 * use the layers directly.
 */
export * from './envelope';
export * from './turn-signals';
export * as gateway from './gateway';
export * as routing from './routing';
export * as store from './store/kv';
export { registerProvider, unregisterProvider, listProviders, hasProvider, createProvider } from './llm/registry';
export type * from './llm/types';
export type { ToolDefinition, ToolResult, ToolRunOptions, InProcessTool, ToolSource } from './llm/tool-types';
export { splitMessage, measure, type LengthUnit, type SplitOptions } from './channels/split';
export { StreamRelay, type DraftOps, type StreamRelayOptions } from './channels/stream-relay';
