/**
 * `--rules <file>` of `poll` and of the demo: the rules file's CRM rules deliver every matching event to their
 * CRM with the request the deployed rule would send (shared/crm/crm-bus.ts). Tokens come from
 * HUBSPOT_TOKEN and SALESFORCE_ACCESS_TOKEN. Rules with other targets are not delivered locally.
 */
import { CrmRulesBus, type CrmRulesBusOptions } from '../../shared/crm/crm-bus.ts';
import { isCrmTarget } from '../../shared/crm/model.ts';
import { TOKEN_VARIABLES } from '../../shared/crm/request.ts';
import { RulesConfigError, type SyncRuleSpec } from '../../shared/rules/model.ts';
import { loadRules } from '../commands/rules.ts';

/** The tokens the file's CRM rules need, from the environment; throws naming a missing variable. */
export function crmTokensFromEnv(
  rules: readonly SyncRuleSpec[],
  env: NodeJS.ProcessEnv = process.env,
): CrmRulesBusOptions['tokens'] {
  const tokens: Partial<Record<keyof typeof TOKEN_VARIABLES, string>> = {};
  for (const rule of rules) {
    if (!isCrmTarget(rule.target)) continue;
    const variable = TOKEN_VARIABLES[rule.target.type];
    const token = env[variable];
    if (!token) throw new RulesConfigError(`rule '${rule.name}' needs ${variable} (its CRM's token)`, []);
    tokens[rule.target.type] = token;
  }
  return tokens;
}

/** A bus delivering to the file's CRM rules after `inner`, and a line saying what it does. */
export function openCrmDelivery(
  file: string,
  options: Omit<CrmRulesBusOptions, 'rules' | 'tokens'> & { readonly env?: NodeJS.ProcessEnv },
): { bus: CrmRulesBus; description: string; skipped: string[] } {
  const rules = loadRules(file);
  const bus = new CrmRulesBus({ ...options, rules, tokens: crmTokensFromEnv(rules, options.env) });
  const skipped = rules.filter((r) => !isCrmTarget(r.target)).map((r) => `${r.name} (${r.target.type})`);
  const names = bus.ruleNames;
  const delivered = names.length > 0 ? `CRM rules ${names.join(', ')} of ${file}` : `no CRM rule of ${file}`;
  const notLocal = skipped.length > 0 ? ` (not delivered locally: ${skipped.join(', ')})` : '';
  return { bus, description: `${delivered}${notLocal}`, skipped };
}
