import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Checkpoints run behind the acknowledgements, at a lower priority than the threads a message waits for. */
export const CHECKPOINT_THREAD_NICE = 10;

/**
 * Runs WAL checkpoints of `file` on a worker thread every `everyMs` (see sqlite-checkpoint-worker.mjs); `checkpointed`
 * is called after each one.
 */
export function startCheckpointer(file: string, everyMs = 1000, onError?: (message: string) => void, checkpointed?: () => void): { stop(): Promise<void> } {
  const require = createRequire(import.meta.url);
  const worker = new Worker(new URL('./sqlite-checkpoint-worker.mjs', import.meta.url), {
    workerData: { driver: require.resolve('better-sqlite3'), file, everyMs, nice: CHECKPOINT_THREAD_NICE },
  });
  worker.on('message', (m: { type: string; message?: string }) => {
    if (m.type === 'error') onError?.(m.message ?? 'checkpoint failed');
    else if (m.type === 'checkpointed') checkpointed?.();
  });
  worker.on('error', (err) => onError?.(err.message));
  worker.unref();
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        // an unreferenced worker would let the process end before its last checkpoint
        worker.ref();
        worker.postMessage('stop');
        // a last checkpoint runs at the next tick of its timer; do not wait for ever on a stuck disk
        setTimeout(() => void worker.terminate(), 5000).unref();
      }),
  };
}
