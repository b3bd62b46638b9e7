#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx nutcache-cdc …` works straight from a checkout.
import { register } from 'tsx/esm/api';

// The CLI supports Node.js 20 (the Lambda runs 22): keep the AWS SDK's Node 20 notice out of its output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
await import('../cli/main.ts');
