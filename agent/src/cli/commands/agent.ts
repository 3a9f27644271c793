import { ArgumentError } from '@meshguard/core';
import { MESH_PORT } from '../../daemon/mesh-runtime.js';
import { parseStunServer } from '../../daemon/seeds.js';
import { parseEndpoint, type UdpEndpoint } from '../../wireguard/endpoint.js';
import { parseCommandArgs } from '../args.js';
import type { AsyncCommandHandler } from '../context.js';

const AGENT_USAGE =
  'meshguard agent --node-name NAME --org ORG [--namespace NS] [--state-dir DIR] [--port N] [--interface NAME] ' +
  '[--advertise IP[:PORT]] [--metrics-address IP:PORT] [--stun HOST[:PORT]]... [--kubeconfig FILE]';

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function required(value: string | undefined, flag: string, env: string): string {
  if (value === undefined || value === '') throw new ArgumentError(`${flag} is required (or set ${env})`);
  return value;
}

function dnsLabel(value: string, flag: string): string {
  if (value.length > 63 || !K8S_NAME.test(value)) {
    throw new ArgumentError(
      `${flag} must be a DNS label (lowercase letters, digits, '-'), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * `meshguard agent`: the in-cluster node (DaemonSet). Flags win over the environment the chart
 * sets from the downward API: NODE_NAME, MESHGUARD_ORG, POD_NAMESPACE, HOST_IP, KUBECONFIG,
 * MESHGUARD_METRICS_ADDRESS. The Kubernetes client is loaded only here, so the other commands
 * never pay for it.
 */
export const agentCommand: AsyncCommandHandler = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    {
      'node-name': { type: 'string' },
      org: { type: 'string' },
      namespace: { type: 'string' },
      'state-dir': { type: 'string' },
      port: { type: 'string' },
      interface: { type: 'string' },
      advertise: { type: 'string' },
      'metrics-address': { type: 'string' },
      stun: { type: 'string', multiple: true },
      kubeconfig: { type: 'string' },
    },
    AGENT_USAGE,
    { min: 0, max: 0 },
  );
  const env = process.env;
  const nodeName = dnsLabel(
    required(values['node-name'] ?? env['NODE_NAME'], '--node-name', 'NODE_NAME'),
    '--node-name',
  );
  const org = dnsLabel(required(values.org ?? env['MESHGUARD_ORG'], '--org', 'MESHGUARD_ORG'), '--org');
  const namespace = dnsLabel(values.namespace ?? env['POD_NAMESPACE'] ?? 'meshguard', '--namespace');
  const port = values.port === undefined ? MESH_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ArgumentError(`--port must be 1-65535, got ${values.port ?? ''}`);
  }
  const advertiseText = values.advertise ?? env['HOST_IP'];
  const advertise: UdpEndpoint = parseAdvertise(required(advertiseText, '--advertise', 'HOST_IP'), port);
  const metricsText = values['metrics-address'] ?? env['MESHGUARD_METRICS_ADDRESS'];
  const http = metricsText === undefined || metricsText === '' ? undefined : parseEndpoint(metricsText);
  const stunServers = (values.stun ?? []).map(parseStunServer);
  const kubeconfig = values.kubeconfig ?? env['KUBECONFIG'];

  const [{ KubeAgent }, kube] = await Promise.all([
    import('../../kube-agent/kube-agent.js'),
    import('@meshguard/core/kube'),
  ]);
  const client = new kube.KubeClient(kube.loadKubeConfig(kubeconfig === '' ? undefined : kubeconfig));
  const agent = await KubeAgent.start({
    client,
    nodeName,
    org,
    namespace,
    stateDir: values['state-dir'] ?? ctx.configDir,
    port,
    ...(values.interface !== undefined && { interfaceName: values.interface }),
    advertise,
    ...(http !== undefined && { http }),
    stunServers,
    log: ctx.err,
  });
  await new Promise<void>((done) => {
    const onSignal = (): void => {
      agent.stop();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    agent.onStop(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done();
    });
  });
};

/** `IP` (the mesh port) or `IP:PORT`: what peers dial, e.g. the node's InternalIP. */
function parseAdvertise(text: string, port: number): UdpEndpoint {
  return /^[0-9.]+$/.test(text) ? parseEndpoint(`${text}:${String(port)}`) : parseEndpoint(text);
}
