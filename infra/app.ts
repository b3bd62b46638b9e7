/**
 * The CDK app entry (`cdk.json`: `npx tsx infra/app.ts`). Configuration: the JSON file named by the
 * context value `config` (`npx cdk synth -c config=path/to/file.json`), else nutcache-cdc.config.json, else
 * the committed example. No AWS lookups: synth needs no credentials.
 */
import { buildApp } from './build-app.ts';
import { ConfigError, EXAMPLE_CONFIG_FILE } from './config.ts';

try {
  const { app, configPath, stack } = buildApp();
  if (configPath?.endsWith(EXAMPLE_CONFIG_FILE)) {
    console.error(
      `nutcache-cdc: using ${EXAMPLE_CONFIG_FILE} (copy it to nutcache-cdc.config.json and list your organizations).`,
    );
  }
  if (stack.changeEventSchemaOrigin === 'generated') {
    console.error(
      'nutcache-cdc: event schema generated from shared/events/contract.ts (no schema/ file found).',
    );
  }
  app.synth();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
