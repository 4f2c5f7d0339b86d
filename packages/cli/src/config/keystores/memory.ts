// `keystore.memory`: the in-memory store (kes-ts), written `memory: {}`; keys are lost on exit.
import { obj } from '../schema-helpers.js';
import type { KeyStoreSection } from './section.js';

/** `keystore.memory: {}` → `{ type: 'memory' }`. */
export const memorySection: KeyStoreSection = {
  name: 'memory',
  schema: obj({}),
  read: () => ({ type: 'memory' }),
};
