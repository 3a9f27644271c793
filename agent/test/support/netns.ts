/**
 * The network-namespace test harness, in one import: capability checks for requireCapability,
 * the Topology that creates and destroys namespaces, veths and processes, Node fixtures that
 * report JSON from inside a namespace, wireguard-go as an independent peer, and `wg show dump`
 * parsing.
 */
export * from './capabilities.js';
export * from './fixture.js';
export * from './process.js';
export * from './topology.js';
export * from './wg-dump.js';
export * from './wg-keys.js';
export * from './wireguard-go.js';
