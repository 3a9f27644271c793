import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '@meshguard/core/kube';
import { ArgumentError } from '@meshguard/core';
import { meshControllers } from '../wiring/mesh-controllers.js';
import type { ControllerSetup } from './controller-registration.js';
import { jsonLogger, type Logger } from './logger.js';
import { OperatorApp, type OperatorAppOptions } from './operator-app.js';

/**
 * The controllers this binary runs. EXTENSION POINT: the MeshOrg and MeshNode reconcilers are
 * added here as ControllerSetup functions (see controller-registration.ts), e.g.
 *
 *   (ctx) => {
 *     const orgs = new Informer<MeshOrg>({ name: 'meshorgs', listWatcher: new KubeListWatcher(ctx.client, …) });
 *     return {
 *       name: 'meshorg',
 *       informers: [orgs],
 *       createController: (term) => {
 *         const controller = new Controller({ name: 'meshorg', reconciler: …, ...term.instrumentation });
 *         return { controller, dispose: enqueueOnChange(orgs, controller.queue) };
 *       },
 *     };
 *   }
 */
export const controllers: readonly ControllerSetup[] = [...meshControllers()];

export interface CliOptions {
  readonly httpAddress: string;
  readonly namespace: string;
  readonly leaderElect: boolean;
  readonly kubeconfig: string | undefined;
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * Flags win over environment variables, which win over defaults: --metrics-address
 * (MESHGUARD_METRICS_ADDRESS, `:8080`), --namespace (POD_NAMESPACE, the service account's
 * namespace in a pod, else `default`), --leader-elect (MESHGUARD_LEADER_ELECT, true),
 * --kubeconfig (KUBECONFIG, else in-cluster or ~/.kube/config).
 */
export function parseCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  readNamespaceFile: () => string | undefined = readServiceAccountNamespace,
): CliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'metrics-address': { type: 'string' },
      namespace: { type: 'string' },
      'leader-elect': { type: 'string' },
      kubeconfig: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const leaderElect = parseBoolean(values['leader-elect'] ?? env['MESHGUARD_LEADER_ELECT'] ?? 'true');
  const kubeconfig = values.kubeconfig ?? env['KUBECONFIG'];
  return {
    httpAddress: values['metrics-address'] ?? env['MESHGUARD_METRICS_ADDRESS'] ?? ':8080',
    namespace: values.namespace ?? env['POD_NAMESPACE'] ?? readNamespaceFile() ?? 'default',
    leaderElect,
    kubeconfig: kubeconfig === '' ? undefined : kubeconfig,
  };
}

function parseBoolean(text: string): boolean {
  if (/^(true|1|yes)$/i.test(text)) return true;
  if (/^(false|0|no)$/i.test(text)) return false;
  throw new ArgumentError(`--leader-elect must be true or false, got ${JSON.stringify(text)}`);
}

function readServiceAccountNamespace(): string | undefined {
  try {
    const ns = readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
    return ns === '' ? undefined : ns;
  } catch {
    return undefined;
  }
}

export { loadKubeConfig };

/**
 * SIGTERM/SIGINT start the graceful shutdown; a second signal exits at once (an operator that
 * hangs in shutdown must still be killable by a human pressing Ctrl-C twice).
 */
export function handleSignals(app: OperatorApp, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn('second signal: exiting without a graceful shutdown', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('signal received', { signal });
    app.stop().then(
      () => {
        process.exitCode = 0;
      },
      (err: unknown) => {
        logger.error('shutdown failed', { err });
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export async function main(
  argv: readonly string[] = process.argv.slice(2),
  extra: Partial<OperatorAppOptions> = {},
): Promise<OperatorApp> {
  const logger = extra.logger ?? jsonLogger();
  const cli = parseCli(argv);
  const app = new OperatorApp({
    kubeConfig: loadKubeConfig(cli.kubeconfig),
    namespace: cli.namespace,
    httpAddress: cli.httpAddress,
    leaderElection: cli.leaderElect ? {} : false,
    controllers,
    logger,
    ...extra,
  });
  handleSignals(app, logger);
  try {
    await app.start();
  } catch (err) {
    await app.stop();
    throw err;
  }
  return app;
}

// Run when executed directly (node operator/dist/src/app/main.js), not when imported by tests.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    jsonLogger().error('operator failed to start', { err });
    process.exitCode = 1;
  });
}
