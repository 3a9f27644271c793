export { hex, K1, K2, K3, toHexStr } from '../src/testing/index.js';
