import { useEffect } from 'react';
import { api } from '../api.ts';

/** At most one keep-alive per this interval; well inside the server's idle timeout (30 minutes by default). */
const EVERY_MS = 5 * 60_000;

/**
 * The server ends a session after a while without requests. An agent who chats all afternoon talks to the server over
 * the socket only, so real use of the page (keys, clicks, touches) is reported over HTTP now and then; a console left
 * alone in an empty office sends nothing and its session runs out as it should.
 */
export function useSessionKeepAlive(active: boolean): void {
  useEffect(() => {
    if (!active) return;
    let last = Date.now();
    const onActivity = () => {
      if (Date.now() - last < EVERY_MS) return;
      last = Date.now();
      // a failure needs no handling here: the next real request reports an ended session
      api.me().catch(() => {});
    };
    const events = ['keydown', 'pointerdown'] as const;
    for (const e of events) window.addEventListener(e, onActivity, { passive: true });
    return () => {
      for (const e of events) window.removeEventListener(e, onActivity);
    };
  }, [active]);
}
