/**
 * Where the CLI and the workers connect: Temporal's standard client settings, read by @temporalio/envconfig
 * exactly as the other SDKs and the `temporal` CLI read them — the environment (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH/…_KEY_PATH,
 * TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_GRPC_META_*) over a profile
 * (TEMPORAL_PROFILE, default "default") of the config file (TEMPORAL_CONFIG_FILE, default
 * ~/.config/temporalio/temporal.toml).
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

/** The dev server `isheep dev` starts, and where a bare client looks. */
export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';

export interface TemporalTarget {
  /** Good for both the client's Connection.connect and the workers' NativeConnection.connect. */
  connectionOptions: NativeConnectionOptions & { address: string };
  namespace: string;
}

/** The configured server, namespace and credentials; `env` is the environment to read (tests pass their own). */
export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars: definedOnly(env) });
  return {
    connectionOptions: { ...withoutUndefined(connectionOptions), address: connectionOptions.address ?? DEFAULT_ADDRESS },
    namespace: namespace ?? DEFAULT_NAMESPACE,
  };
}

/** Our own TLS variables of earlier versions, now read by no one: a warning beats a puzzling handshake error. */
const RETIRED_TLS_VARIABLES: Record<string, string> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

export function retiredVariablesWarning(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = Object.keys(RETIRED_TLS_VARIABLES).filter((name) => env[name] !== undefined);
  if (set.length === 0) return null;
  return `${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} no longer read; use ${set.map((n) => RETIRED_TLS_VARIABLES[n]).join(', ')}`;
}

/** The local dev server we started ourselves: plain gRPC, its default namespace, no credentials of a profile. */
export function localTarget(address: string): TemporalTarget {
  return { connectionOptions: { address }, namespace: DEFAULT_NAMESPACE };
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** `{apiKey: undefined}` and friends would override the SDK's own defaults on spread. */
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
