// What the cross-package end-to-end tests (test-e2e/) use from the agent's test support.
import { fileURLToPath } from 'node:url';

export { MeshLab, type LabNode } from './mesh-lab.js';
export * from './netns.js';

/** The meshguard CLI, compiled. */
export const MESHGUARD_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
