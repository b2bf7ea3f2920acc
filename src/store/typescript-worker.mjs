// Entry of worker threads written in TypeScript. A worker thread does not inherit the loader that bin/kefu.mjs
// registers on the main thread, so this registers tsx in the worker and then loads workerData.module (a file URL).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.module);
