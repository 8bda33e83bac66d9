// Requests that Node's HTTP parser refuses before fastify sees them (a garbage request line,
// a negative Content-Length, Content-Length with Transfer-Encoding, characters HTTP forbids
// in a header, headers over the size limit, a stalled request): answered in the fault
// envelope of the API the socket belongs to, with a request id, instead of fastify's own
// {"error","message","statusCode"} body. Fastify calls this as its clientErrorHandler.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { faultBody, type FaultStyle } from './errors.js';

interface ParserError extends Error {
  code?: string;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Status and message for one of llhttp's error codes (node:http 'clientError'). */
export function describeParserError(code: string | undefined): { status: number; message: string } {
  switch (code ?? '') {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        message:
          'The request headers are larger than the 16 KiB this service accepts. Fix: send fewer or shorter headers (a token is a few hundred bytes).',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, message: 'The request was not received in time. Fix: send it again.' };
    case 'HPE_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        message: 'Content-Length is not a valid byte count (a non-negative whole number, sent once).',
      };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return {
        status: 400,
        message:
          'The request has both Content-Length and Transfer-Encoding, or a Transfer-Encoding other than chunked. Fix: send one of them (RFC 9112 §6.1).',
      };
    case 'HPE_INVALID_METHOD':
    case 'HPE_INVALID_URL':
    case 'HPE_INVALID_VERSION':
    case 'HPE_INVALID_CONSTANT':
      return {
        status: 400,
        message: 'The request line is not valid HTTP/1.1 ("METHOD /path HTTP/1.1"). Fix: check the client.',
      };
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CR_EXPECTED':
    case 'HPE_LF_EXPECTED':
      return {
        status: 400,
        message:
          'A header or the chunked body is malformed (a character HTTP does not allow, or a bad chunk size). Fix: check the headers the client sends.',
      };
    default:
      return {
        status: 400,
        message: `The request is not valid HTTP/1.1 (${code ?? 'unreadable'}). Fix: check the client or proxy in front of this service.`,
      };
  }
}

/** The clientErrorHandler of every API's fastify instance (bound to the instance). */
export function protocolErrorHandler(this: FastifyInstance, err: ParserError, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const style = (this as unknown as { faultStyle?: FaultStyle }).faultStyle ?? 'compute';
  const { status, message } = describeParserError(err.code);
  const requestId = `req-${randomUUID()}`;
  this.log.info({ code: err.code, status, requestId }, 'request refused by the HTTP parser');
  // As node's own handler: no second answer once a response has started on this connection
  // (an answer sent before the parser met the bad bytes further on).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(faultBody(style, status, message));
    socket.write(
      `HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-openstack-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
