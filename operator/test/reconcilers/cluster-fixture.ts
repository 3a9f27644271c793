import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpMethod } from '@kubernetes/client-node';
import { KubeConfig } from '@kubernetes/client-node';
import { encodeBase64, generateKeyPair } from '@meshguard/core';
import { loadCrdManifests } from '../../src/api/crd-manifests.js';
import { KubeClient, type KubeRequestOptions } from '@meshguard/core/kube';
import type { KubeRequester } from '../../src/reconcilers/kube-api.js';
import { apiRequest, CONTENT_TYPE } from '../api/kube-api.js';
import { KubeCluster } from '../support/kube-cluster.js';

// A cluster with the CRDs installed and an operator namespace, shared by the reconciler tests.

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

export interface RecordedRequest {
  readonly method: HttpMethod;
  readonly path: string;
}

/**
 * A KubeRequester that records writes and lets a test act just before one is sent (to provoke a
 * conflict); reads pass through unrecorded.
 */
export class RecordingClient implements KubeRequester {
  readonly writes: RecordedRequest[] = [];
  readonly conflicts: RecordedRequest[] = [];
  beforeWrite: ((method: HttpMethod, path: string) => Promise<void>) | undefined;
  readonly #inner: KubeRequester;

  constructor(inner: KubeRequester) {
    this.#inner = inner;
  }

  async request(method: HttpMethod, path: string, options?: KubeRequestOptions): Promise<unknown> {
    if (method !== 'GET') {
      await this.beforeWrite?.(method, path);
      this.writes.push({ method, path });
    }
    try {
      return await this.#inner.request(method, path, options);
    } catch (err) {
      if (err instanceof Error && 'status' in err && err.status === 409) this.conflicts.push({ method, path });
      throw err;
    }
  }
}

export interface ReconcilerCluster {
  readonly cluster: KubeCluster;
  readonly client: KubeClient;
  readonly namespace: string;
}

export async function startReconcilerCluster(): Promise<ReconcilerCluster> {
  const cluster = await KubeCluster.start();
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const client = new KubeClient(kc);
    await installCrds(cluster, client);
    const namespace = 'meshguard-system';
    await client.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    });
    return { cluster, client, namespace };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** Server-side applies crds/ and waits until both kinds are served. */
export async function installCrds(cluster: KubeCluster, client: KubeClient): Promise<void> {
  for (const crd of await loadCrdManifests()) {
    // The file itself is the apply body (YAML); KubeClient would send it as a JSON string.
    const query = 'fieldManager=meshguard-operator&force=true';
    const res = await apiRequest(cluster, 'PATCH', `${CRD_PATH}/${crd.name}?${query}`, crd.yaml, CONTENT_TYPE.apply);
    assert.ok(res.status === 200 || res.status === 201, `apply ${crd.name}: ${res.status} ${res.body}`);
  }
  for (const crd of await loadCrdManifests()) await waitEstablished(client, crd.name);
}

async function waitEstablished(client: KubeClient, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const crd = (await client.request('GET', `${CRD_PATH}/${name}`)) as {
      status?: { conditions?: { type: string; status: string }[]; acceptedNames?: { kind?: string } };
    };
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true) {
      // Established can precede the resource being served by a moment.
      await sleep(200);
      return;
    }
    assert.ok(Date.now() < deadline, `${name} not Established`);
    await sleep(100);
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function newNodeKey(): string {
  return encodeBase64(generateKeyPair().publicKey);
}

export function newWireGuardKey(): string {
  return encodeBase64(new Uint8Array(randomBytes(32)));
}
