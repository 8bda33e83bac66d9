// Where the CLI finds credentials: OS_* variables, or a clouds.yaml cloud (OS_CLOUD /
// --os-cloud, default "kestrel") from OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml or <state_path>/clouds.yaml.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseCloudsYaml } from '../service/clouds.js';

export interface Credentials {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  region?: string;
  /** Where they came from, for messages. */
  source: string;
}

export class CredentialsError extends Error {}

export function findCredentials(
  opts: { cloud?: string; env?: NodeJS.ProcessEnv; statePath?: string } = {},
): Credentials {
  const env = opts.env ?? process.env;
  if (env.OS_AUTH_URL && env.OS_USERNAME && env.OS_PASSWORD && !opts.cloud) {
    return {
      authUrl: env.OS_AUTH_URL,
      username: env.OS_USERNAME,
      password: env.OS_PASSWORD,
      projectName: env.OS_PROJECT_NAME ?? env.OS_TENANT_NAME ?? 'admin',
      region: env.OS_REGION_NAME,
      source: 'OS_* environment variables',
    };
  }
  const cloud = opts.cloud ?? env.OS_CLOUD ?? 'kestrel';
  const files = [
    env.OS_CLIENT_CONFIG_FILE,
    'clouds.yaml',
    join(homedir(), '.config', 'openstack', 'clouds.yaml'),
    '/etc/openstack/clouds.yaml',
    join(opts.statePath ?? '/var/lib/kestrel', 'clouds.yaml'),
  ].filter((f): f is string => !!f);
  for (const f of files) {
    if (!existsSync(f)) continue;
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const c = parseCloudsYaml(text, cloud);
    if (c?.authUrl && c.username && c.password) {
      return {
        authUrl: c.authUrl,
        username: c.username,
        password: c.password,
        projectName: c.projectName ?? 'admin',
        region: c.region,
        source: `${f} (cloud ${cloud})`,
      };
    }
  }
  throw new CredentialsError(
    `no credentials: set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME, or point OS_CLIENT_CONFIG_FILE at the clouds.yaml that kestrel serve wrote (e.g. /var/lib/kestrel/clouds.yaml) with cloud "${cloud}"`,
  );
}
