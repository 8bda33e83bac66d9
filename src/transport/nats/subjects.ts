// Subject and stream names. A host name becomes one subject token and part of a stream name:
// letters, digits, '-' and '_' stay, every other byte is written ~XX (so "cn1.example" and
// "cn1_example" never meet, and a dot in a host name never adds a subject level).
const PREFIX = 'kestrel';

export function hostToken(host: string): string {
  if (!host) throw new Error('a compute host name must not be empty');
  return Array.from(Buffer.from(host, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_-]/.test(c) ? c : `~${b.toString(16).padStart(2, '0')}`;
    })
    .join('');
}

/** Request/reply calls to a host's agent: kestrel.agent.<host>.call.<method>. */
export const callSubject = (host: string, method: string) =>
  `${PREFIX}.agent.${hostToken(host)}.call.${method}`;
export const callWildcard = (host: string) => `${PREFIX}.agent.${hostToken(host)}.call.*`;

/** A host's work queue of operations: one stream per host, one subject. */
export const opsSubject = (host: string) => `${PREFIX}.ops.${hostToken(host)}`;
export const opsStream = (host: string) => `KESTREL_OPS_${hostToken(host)}`;
export const OPS_CONSUMER = 'agent';

/** Heartbeats (core NATS: a lost one only delays "up"). */
export const heartbeatSubject = (host: string) => `${PREFIX}.heartbeat.${hostToken(host)}`;
export const HEARTBEAT_WILDCARD = `${PREFIX}.heartbeat.*`;

/** Reports to the controller: one durable stream for every host. */
export const reportSubject = (host: string) => `${PREFIX}.report.${hostToken(host)}`;
export const REPORT_STREAM = 'KESTREL_REPORTS';
export const REPORT_WILDCARD = `${PREFIX}.report.*`;
export const REPORT_CONSUMER = 'controller';

/** Method names travel as one subject token. */
export function checkMethod(method: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(method)) throw new Error(`bad agent method name "${method}"`);
  return method;
}
