/**
 * Redaction of credentials from anything a server controls (URL paths of `navigation-next` links, body
 * excerpts, network error details) before it reaches an error message or a log line.
 *
 * A hostile or broken server may reflect a credential in many spellings. The text is therefore redacted,
 * then decoded (percent-escapes, HTML entities) and redacted again, a few rounds, so percent-encoded
 * (any hex case, `+` for spaces), HTML-escaped (named or numeric) and doubly encoded spellings are caught;
 * base64 spellings are matched directly, at each of the three byte alignments a secret can have inside a
 * longer base64 text (the nut-basic header is base64 of `apiKey:username:password`). What is shown is the
 * decoded, redacted text.
 */
import { clip, oneLine } from '../util/one-line.ts';
import { EXCERPT_LENGTH } from './errors.ts';

export const REDACTED = '[redacted]';
/** Longest path shown in an error or log line. */
export const SHOWN_PATH_LENGTH = 200;
/** The part of a body looked at for an excerpt (its redacted, decoded form is far longer than the excerpt). */
const EXCERPT_WINDOW = 64 * 1024;
const DECODE_ROUNDS = 4;

/** The base64 characters that depend only on `secret`, for each of the 3 byte offsets it may start at. */
function base64Spellings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    const inner = encoded.slice(first, end);
    out.push(inner, inner.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** JSON string escapes, plain and with every non-ASCII character as `\uXXXX`. */
function jsonSpellings(secret: string): string[] {
  const plain = JSON.stringify(secret).slice(1, -1);
  const ascii = plain.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [plain, ascii];
}

/**
 * Spellings that survive decoding: the secret, its JSON escapes, form encoding's `+` for a space, what
 * the URL parser makes of it in a path (backslash to slash, tabs and newlines dropped), and base64.
 */
export function spellingsOf(secret: string): string[] {
  return [
    secret,
    ...jsonSpellings(secret),
    secret.replace(/ /g, '+'),
    secret.replace(/\\/g, '/').replace(/[\t\n\r]/g, ''),
    ...base64Spellings(secret),
  ];
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,4});/gi, (entity, body: string) => {
    const lower = body.toLowerCase();
    if (lower.startsWith('#')) {
      const code = lower.startsWith('#x') ? Number.parseInt(lower.slice(2), 16) : Number(lower.slice(1));
      return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    }
    return NAMED_ENTITIES[lower] ?? entity;
  });
}

function decodePercent(text: string): string {
  return text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** Removes known secrets, in every spelling above, from server-controlled text. */
export class Redactor {
  private readonly spellings: readonly string[];

  constructor(secrets: readonly string[]) {
    const all = new Set<string>();
    for (const secret of secrets) if (secret.length > 0) for (const s of spellingsOf(secret)) all.add(s);
    this.spellings = [...all].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  }

  /** The text decoded and with every spelling of every secret replaced by `[redacted]`. */
  text(text: string): string {
    let out = this.literal(text);
    for (let round = 0; round < DECODE_ROUNDS; round++) {
      const decoded = decodeHtml(decodePercent(out));
      if (decoded === out) break;
      out = this.literal(decoded);
    }
    return out;
  }

  /** A URL's path as shown in errors and logs: redacted, decoded, one line, at most 200 characters. */
  path(url: URL): string {
    return clip(oneLine(this.text(url.pathname)), SHOWN_PATH_LENGTH);
  }

  /** A short, single-line excerpt of a body, redacted, at most EXCERPT_LENGTH characters. */
  excerpt(body: string): string {
    return clip(oneLine(this.text(body.slice(0, EXCERPT_WINDOW))).trim(), EXCERPT_LENGTH);
  }

  private literal(text: string): string {
    let out = text;
    for (const spelling of this.spellings)
      if (out.includes(spelling)) out = out.split(spelling).join(REDACTED);
    return out;
  }
}
