/**
 * Public entry of the clawflow engine (no Node-RED in here). Node-RED users never need it;
 * other modules use it to add providers and channels, and tests use it directly.
 */
export * from './envelope';
export * from './turn-signals';
