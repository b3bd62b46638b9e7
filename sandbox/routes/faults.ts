/** Fault injection on the request path: which faults fire, and the answers of the terminal ones. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  encodeReflection,
  type FaultAction,
  htmlErrorPage,
  type OversizedFault,
  type ReflectFault,
  type RequestFacts,
  reflectedText,
  retryAfterHeader,
} from '../faults.ts';
import { type Answer, json } from '../http.ts';
import { type Organization, type SandboxState, sleep } from '../state.ts';
import { listing } from './customers.ts';

/** How an answer is cut short by a `truncated` fault. */
export interface Truncation {
  readonly fraction: number;
  readonly framing: 'complete' | 'abort';
}

/** What the faults that fired for a request leave to do. */
export interface FiredFaults {
  /** The first fault that replaces the answer, if any. */
  readonly terminal: FaultAction | undefined;
  readonly truncate: Truncation | undefined;
}

/** The listing a request asked for (for a `reflect` fault's hostile next link). */
export interface ListedPage {
  readonly org: Organization;
  readonly page: number;
  readonly limit: number;
}

/**
 * Takes the faults matching the request: waits out delays, runs `before` mutations, queues `after`
 * mutations on `after`, and returns the truncation and the terminal fault.
 */
export async function takeFaults(
  state: SandboxState,
  facts: RequestFacts,
  after: (() => void)[],
): Promise<FiredFaults> {
  const fired = state.faults.take(facts);
  state.counters.faultsFired += fired.length;
  let terminal: FaultAction | undefined;
  let truncate: Truncation | undefined;
  for (const action of fired) {
    if (action.kind === 'delay') await sleep(state, action.ms);
    else if (action.kind === 'mutate') {
      if (action.when === 'before') action.run();
      else after.push(action.run);
    } else if (action.kind === 'truncated') {
      truncate ??= { fraction: action.fraction ?? 0.5, framing: action.framing ?? 'complete' };
    } else terminal ??= action;
  }
  return { terminal, truncate };
}

/** An `oversized` fault: `{"customers":[`, then padding with backpressure until `bytes` or the client leaves. */
export async function streamOversized(
  state: SandboxState,
  res: ServerResponse,
  fault: OversizedFault,
): Promise<void> {
  const open = '{"customers":[';
  const close = ']}';
  const total = fault.bytes ?? Number.POSITIVE_INFINITY;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (fault.declareLength && Number.isFinite(total)) headers['content-length'] = String(total);
  res.writeHead(200, headers);
  res.write(open);
  let sent = open.length;
  const chunk = Buffer.alloc(64 * 1024, ' ');
  while (!res.destroyed && sent + close.length < total) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - close.length - sent));
    sent += piece.length;
    state.counters.oversizedBytesSent += piece.length;
    if (!res.write(piece)) await drainedOrClosed(res);
  }
  if (!res.destroyed) res.end(close);
}

/** A `reset` fault: the connection is reset without an answer. */
export function resetConnection(req: IncomingMessage): void {
  if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
  else req.socket.destroy();
}

/** A `reflect` fault: the request's Authorization (and the credentials in it) echoed back at the client. */
function reflectAnswer(
  state: SandboxState,
  fault: ReflectFault,
  authorization: string | undefined,
  listed: ListedPage | undefined,
): Answer {
  const echo = encodeReflection(reflectedText(authorization), fault.encoding ?? 'raw');
  if (fault.into === 'next-link' && listed) {
    const { org, page, limit } = listed;
    return listing(state, org, page, limit, `customers/${echo}?limit=${limit}&page=${page + 1}&echo=${echo}`);
  }
  const status = fault.status ?? 400;
  if (fault.encoding === 'html') {
    const body = `<!DOCTYPE html><html><body><h1>Bad request</h1><p>${echo}</p></body></html>`;
    return { status, headers: { 'content-type': 'text/html; charset=utf-8' }, body };
  }
  return json(status, { message: `No HTTP resource was found that matches the request '${echo}'.` });
}

/** The answer replacing the route's for a `status`, `reflect` or `html` fault; undefined for any other. */
export function faultAnswer(
  state: SandboxState,
  terminal: FaultAction | undefined,
  authorization: string | undefined,
  listed: ListedPage | undefined,
): Answer | undefined {
  if (terminal?.kind === 'status') {
    const headers: Record<string, string> = {};
    if (terminal.retryAfter !== undefined) headers['retry-after'] = retryAfterHeader(terminal.retryAfter);
    return terminal.body
      ? {
          status: terminal.status,
          headers: { 'content-type': terminal.contentType ?? 'text/plain', ...headers },
          body: terminal.body,
        }
      : json(terminal.status, { message: 'An error has occurred.' }, headers);
  }
  if (terminal?.kind === 'reflect') return reflectAnswer(state, terminal, authorization, listed);
  if (terminal?.kind === 'html') {
    const s = terminal.status ?? 500;
    return { status: s, headers: { 'content-type': 'text/html; charset=utf-8' }, body: htmlErrorPage(s) };
  }
  return undefined;
}

/** Waits until `res` can take more or was closed, leaving no listener behind (a long stream waits often). */
function drainedOrClosed(res: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done).once('close', done);
  });
}
