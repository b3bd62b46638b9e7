/**
 * Lists the longest functions of the product's code (shared/, functions/, infra/, cli/, sandbox/), measured
 * in source lines from the function's first line to its last, with the TypeScript compiler's own parser.
 *
 *   npx tsx scripts/function-lengths.ts [--over 80] [--json] [dir …]
 *
 * Exits 1 when `--max N` is given and a function is longer than N lines (data tables are not functions, so
 * they never count).
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';

export interface FunctionLength {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

/** The product's code: what the 120-line rule (docs/architecture.md) covers. */
export const DEFAULT_DIRS = ['shared', 'functions', 'infra', 'cli', 'sandbox'];

export function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function functionName(node: ts.Node, file: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name !== undefined) return named.name.getText(file);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(file);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(file);
  return '(anonymous)';
}

function isFunctionLike(node: ts.Node): boolean {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** Every function-like node of one file with its length in lines. */
export function measureFile(path: string, root = process.cwd()): FunctionLength[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunctionLike(node)) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({
        file: relative(root, path),
        name: functionName(node, file),
        line: start + 1,
        lines: end - start + 1,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: {
      over: { type: 'string', default: '80' },
      max: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const dirs = positionals.length > 0 ? positionals : DEFAULT_DIRS;
  const all = dirs.flatMap(sourceFiles).flatMap((path) => measureFile(path));
  const over = Number(values.over);
  const long = all.filter((f) => f.lines > over).sort((a, b) => b.lines - a.lines);
  if (values.json) console.log(JSON.stringify(long, null, 2));
  else {
    console.log(`${long.length} of ${all.length} functions are longer than ${over} lines`);
    for (const f of long) console.log(`${String(f.lines).padStart(5)}  ${f.name}  ${f.file}:${f.line}`);
  }
  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && long.some((f) => f.lines > max)) process.exitCode = 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
