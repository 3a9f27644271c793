/**
 * The object metadata the operator reads, in the API server's JSON form (timestamps are RFC 3339
 * strings). Deliberately not client-node's V1ObjectMeta: that type has Date fields, which only its
 * own deserializer produces, while custom objects arrive as plain JSON. One definition, shared
 * with the controller plumbing that watches these objects.
 */
export type { ObjectMeta as ResourceMeta } from '../kube-object.js';
