/** The rules of a file of examples/, parsed as the CLI parses them, and a lookup by name. */
import { readFileSync } from 'node:fs';
import { parseRulesText, type SyncRuleSpec } from '../../shared/rules/model.ts';

export function exampleRules(file: string): {
  readonly rules: SyncRuleSpec[];
  readonly named: (name: string) => SyncRuleSpec;
} {
  const path = `examples/${file}`;
  const rules = parseRulesText(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'), path);
  const named = (name: string): SyncRuleSpec => {
    const rule = rules.find((r) => r.name === name);
    if (!rule) throw new Error(`no rule ${name} in ${path}`);
    return rule;
  };
  return { rules, named };
}
