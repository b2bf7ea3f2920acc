#!/usr/bin/env node
// The CLI is written in TypeScript; tsx compiles it on the fly so there is no separate build of the server.
import { register } from 'tsx/esm/api';
register();
await import('../src/server/cli.ts');
