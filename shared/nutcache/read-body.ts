/**
 * Reads an HTTP response body with a byte cap, while it streams: a hostile or broken server (a 400 MB page,
 * an endless chunked body) can never make the process hold more than the cap. Past the cap the body stream
 * is cancelled and the caller aborts the request, so the connection is closed at once.
 */

/** The first bytes of an oversized body kept for the error's excerpt. */
const HEAD_BYTES = 4096;

export type CappedBody =
  | { readonly text: string }
  | {
      /** Why the body was refused, e.g. `Content-Length 419430400` or `more than 1048576 bytes sent`. */
      readonly tooLarge: string;
      /** The first bytes of the body (at most 4 KiB), decoded, for an excerpt. */
      readonly head: string;
    };

function declaredLength(response: Response): number | undefined {
  const value = response.headers.get('content-length');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}

function decode(chunks: readonly Uint8Array[]): string {
  return Buffer.concat(chunks).toString('utf8');
}

/** The body as UTF-8 text, or `tooLarge` as soon as more than `limitBytes` bytes are announced or received. */
export async function readCappedBody(response: Response, limitBytes: number): Promise<CappedBody> {
  const declared = declaredLength(response);
  if (declared !== undefined && declared > limitBytes) {
    await response.body?.cancel().catch(() => undefined);
    return { tooLarge: `Content-Length ${declared}`, head: '' };
  }
  if (!response.body) return { text: '' };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text: decode(chunks) };
    received += value.byteLength;
    if (received > limitBytes) {
      await reader.cancel().catch(() => undefined);
      const head = decode(chunks.length > 0 ? chunks : [value]).slice(0, HEAD_BYTES);
      return { tooLarge: `more than ${limitBytes} bytes sent`, head };
    }
    chunks.push(value);
  }
}
