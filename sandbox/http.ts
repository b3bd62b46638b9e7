/** HTTP plumbing of the sandbox: answers, the problem error, writing an answer, reading a bounded body. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '../shared/customer.ts';

const MAX_BODY = 16 * 1024;

/** An answer ready to be written. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A client error answered as JSON: `{message}`, or OAuth2's `{error, error_description}`. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** OAuth2 error code, for the token endpoint's `{error, error_description}` body. */
    readonly oauthError?: string,
  ) {
    super(message);
  }
}

export function json(status: number, value: JsonValue, headers: Record<string, string> = {}): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

/** The answer of an unexpected error. */
export function internalError(): Answer {
  return json(500, { message: 'An error has occurred.' });
}

export function problemAnswer(p: HttpProblem): Answer {
  if (p.oauthError) return json(p.status, { error: p.oauthError, error_description: p.message }, p.headers);
  return json(p.status, { message: p.message }, p.headers);
}

export function write(res: ServerResponse, answer: Answer): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(answer.status, {
    ...answer.headers,
    'content-length': String(Buffer.byteLength(answer.body)),
  });
  res.end(answer.body);
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpProblem(413, 'The request body is too large.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
