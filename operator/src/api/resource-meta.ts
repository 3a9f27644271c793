/**
 * The object metadata the operator reads, in the API server's JSON form (timestamps are RFC 3339
 * strings). Deliberately not client-node's V1ObjectMeta: that type has Date fields, which only its
 * own deserializer produces, while custom objects arrive as plain JSON.
 */
export interface ResourceMeta {
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  /** Bumped by the API server on every spec change, never by status writes. */
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
}
