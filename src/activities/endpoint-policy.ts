/**
 * What an external endpoint (an OpenAI-compatible grader) may do on this worker. The run config names the
 * endpoint and the variable that holds its key, but a config can come from anyone who can start a workflow, so
 * the worker's operator decides which variables an endpoint may read and which hosts it may call:
 *   ISHEEP_ENDPOINT_KEYS=JUDGE_API_KEY,OPENAI_API_KEY
 *   ISHEEP_ENDPOINT_HOSTS=judge:8000,api.openai.com      (a host without a port allows any port)
 * Both default to nothing: without them no endpoint is called.
 */
import type { Endpoint } from '../config/schema.js';

export interface EndpointPolicy {
  keys: string[];
  hosts: string[];
}

export function endpointPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): EndpointPolicy {
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { keys: list(env.ISHEEP_ENDPOINT_KEYS), hosts: list(env.ISHEEP_ENDPOINT_HOSTS).map((h) => h.toLowerCase()) };
}

/** Why this worker refuses the endpoint, or null when it may be called. Never repeats a credential. */
export function checkEndpoint(endpoint: Pick<Endpoint, 'baseUrl' | 'apiKeyEnv'>, policy: EndpointPolicy): string | null {
  let url: URL;
  try {
    url = new URL(endpoint.baseUrl);
  } catch {
    return 'assessment.endpoint.baseUrl is not a URL';
  }
  if (url.username || url.password) return 'assessment.endpoint.baseUrl carries credentials (user:password@); name the key with apiKeyEnv instead';
  const host = url.host.toLowerCase();
  if (!policy.hosts.includes(host) && !policy.hosts.includes(url.hostname.toLowerCase())) {
    return `assessment.endpoint.baseUrl points at ${host}, which this worker may not call; its ISHEEP_ENDPOINT_HOSTS allows ${describe(policy.hosts)}`;
  }
  if (endpoint.apiKeyEnv !== null && !policy.keys.includes(endpoint.apiKeyEnv)) {
    return `assessment.endpoint.apiKeyEnv names ${endpoint.apiKeyEnv}, which this worker does not let endpoints read; its ISHEEP_ENDPOINT_KEYS allows ${describe(policy.keys)}`;
  }
  return null;
}

function describe(list: string[]): string {
  return list.length === 0 ? 'none (the variable is not set)' : list.join(', ');
}
