import { request } from 'node:https';
import type { KubeCluster } from '../support/kube-cluster.js';

export const CONTENT_TYPE = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
}

/** One cause of a refused request: the API server's `field` and `message`. */
export interface StatusCause {
  readonly field?: string;
  readonly message?: string;
  readonly reason?: string;
}

/**
 * A request as the cluster's admin with any content type: the harness's request() always sends
 * application/json, while server-side apply and merge patches need their own. A string body is
 * sent as is (YAML for apply), anything else as JSON.
 */
export function apiRequest(
  cluster: KubeCluster,
  method: string,
  path: string,
  body?: unknown,
  contentType: string = CONTENT_TYPE.json,
): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, cluster.server),
      {
        method,
        ca: cluster.admin.ca,
        cert: cluster.admin.cert,
        key: cluster.admin.key,
        timeout: 10_000,
        headers: {
          accept: 'application/json',
          ...(payload !== undefined && { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function parseJson(res: ApiResponse): unknown {
  return JSON.parse(res.body);
}

/** The causes of a 422, one per refused field. */
export function statusCauses(res: ApiResponse): StatusCause[] {
  const status = parseJson(res) as { details?: { causes?: StatusCause[] } };
  return status.details?.causes ?? [];
}
