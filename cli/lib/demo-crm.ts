/**
 * The demo's CRM side (`npm start -- --crm` or `--rules <file>`): the events also go to CRM targets, and each
 * upsert is printed with the record the CRM now holds. `--crm` uses examples/crm-rules.yaml pointed at the
 * sandbox's CRM stand-in (its URLs and tokens); `--rules` uses the file's own targets and HUBSPOT_TOKEN /
 * SALESFORCE_ACCESS_TOKEN.
 */
import type { Sandbox } from '../../sandbox/server.ts';
import { type CrmDeliveryReport, CrmRulesBus } from '../../shared/crm/crm-bus.ts';
import type { CrmTarget } from '../../shared/crm/model.ts';
import type { EventBus, Log } from '../../shared/ports.ts';
import type { SyncRuleSpec } from '../../shared/rules/model.ts';
import { loadRules } from '../commands/rules.ts';
import { crmTokensFromEnv } from './crm-rules.ts';
import type { colorizer } from './pretty.ts';

export const DEMO_CRM_RULES = 'examples/crm-rules.yaml';

type Paint = ReturnType<typeof colorizer>;
const out = (line: string) => process.stdout.write(`${line}\n`);

/** The example rules with their CRM targets pointed at the stand-in. */
function standInRules(sandbox: Sandbox): SyncRuleSpec[] {
  return loadRules(DEMO_CRM_RULES).map((rule): SyncRuleSpec => {
    const target = rule.target;
    if (target.type === 'hubspot') return { ...rule, target: { ...target, baseUrl: sandbox.crm.hubspotUrl } };
    if (target.type === 'salesforce') {
      return { ...rule, target: { ...target, instanceUrl: sandbox.crm.salesforceUrl } };
    }
    return rule;
  });
}

/** The record the stand-in holds for a delivery, as one short line. */
function recordLine(sandbox: Sandbox, rules: readonly SyncRuleSpec[], report: CrmDeliveryReport): string {
  const target = rules.find((r) => r.name === report.rule)?.target as CrmTarget | undefined;
  if (!target) return '';
  const records =
    target.type === 'hubspot' ? sandbox.crm.hubspot(target.object) : sandbox.crm.salesforce(target.object);
  const record = records.find((r) => r.key === String(report.customerId));
  return record ? ` ${JSON.stringify(record.properties)}` : '';
}

function reporter(sandbox: Sandbox | undefined, rules: readonly SyncRuleSpec[], c: Paint) {
  return (report: CrmDeliveryReport) => {
    const ok = report.status >= 200 && report.status < 300;
    const head = `    ⇢ ${report.rule}: ${report.request.method} customer ${String(report.customerId)} → ${report.status || 'no answer'}`;
    if (!ok) return out(c('red', `${head} ${report.reason ?? ''}`));
    out(c('magenta', `${head}${sandbox ? recordLine(sandbox, rules, report) : ''}`));
  };
}

/** `bus`, or a bus that also delivers to the CRM rules chosen by `--crm` / `--rules`. */
export function crmDelivery(
  values: { readonly crm?: boolean; readonly rules?: string },
  sandbox: Sandbox,
  bus: EventBus,
  c: Paint,
  log: Log,
): EventBus {
  if (!values.crm && !values.rules) return bus;
  const rules = values.rules ? loadRules(values.rules) : standInRules(sandbox);
  const tokens = values.rules ? crmTokensFromEnv(rules) : sandbox.crm.tokens;
  const onDelivery = reporter(values.rules ? undefined : sandbox, rules, c);
  return new CrmRulesBus({ rules, tokens, inner: bus, log, onDelivery });
}

/** The stand-in's records at the end of the demo. */
export function printCrmTotals(sandbox: Sandbox, c: Paint): void {
  for (const rule of standInRules(sandbox)) {
    const t = rule.target;
    if (t.type === 'hubspot')
      out(c('magenta', `CRM stand-in: HubSpot ${t.object}: ${sandbox.crm.hubspot(t.object).length} records`));
    if (t.type === 'salesforce')
      out(
        c(
          'magenta',
          `CRM stand-in: Salesforce ${t.object}: ${sandbox.crm.salesforce(t.object).length} records`,
        ),
      );
  }
}
