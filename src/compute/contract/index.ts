// The compute-agent contract (see agent.ts) and the pieces a transport is built from.
export type { ComputeAgent } from './agent.js';
export * from './types.js';
export { encode, decode, encodeCall, encodeReply, type CallEnvelope, type ReplyEnvelope } from './codec.js';
export {
  AgentServer,
  RemoteAgent,
  jsonReportSink,
  kindOf,
  type AgentTransport,
  type OperationReportSink,
} from './transport.js';
export { LoopbackAgent, LoopbackTransport } from './loopback.js';
