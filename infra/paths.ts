/** Where the CDK app finds the repository's files (handlers, package-lock.json, schema/). */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is infra/paths.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A handler file of functions/ (e.g. `poller.ts`), as an absolute path. */
export function functionEntry(file: string): string {
  return resolve(REPO_ROOT, 'functions', file);
}
