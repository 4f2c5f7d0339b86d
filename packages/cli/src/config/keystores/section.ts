// The shape of one key-store section of a config file (`keystore: {fs: …}`).
import type { KeyStoreConfig } from '@kes/keystores';
import type { Schema } from '../schema-helpers.js';
import type { CheckContext, Doc } from '../values.js';
import type { PathSegment } from '../yaml-path.js';

/** One backend under `keystore:`, as the config file spells it. */
export interface KeyStoreSection {
  /** The name under `keystore:` (`fs`, `aws`, `gcp`, …). */
  readonly name: string;
  /**
   * The mapping inside the section that selects it (`aws: {secretsmanager: …}`), or
   * absent when the section itself does (`fs: {path: …}`).
   */
  readonly inner?: string;
  /** JSON Schema of the section (shape and types only). */
  readonly schema: Schema;
  /**
   * Checks the selected section (the `inner` mapping where there is one) and turns it
   * into `createKeyStore()`'s argument. Absent for a backend kes-ts parses but cannot run.
   */
  readonly read?: (section: Doc, ctx: CheckContext, path: readonly PathSegment[]) => KeyStoreConfig;
}
