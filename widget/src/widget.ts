/**
 * kefu customer chat widget. Embed with one tag:
 *   <script src="https://kefu.example.com/widget.js" async></script>
 * Options on the tag: data-lang="en" | "zh-CN"; data-server="https://…" (socket origin when widget.js is served from elsewhere).
 * The socket connects to the origin the script came from, so the widget works on any host page.
 */
import { pickLang, strings } from './i18n.ts';
import { Session } from './session.ts';
import { WidgetUI } from './ui.ts';

declare global {
  interface Window {
    kefuWidget?: { open(): void; close(): void };
  }
}

// only valid while this script is being executed (async scripts included), so capture it first
const script = (document.currentScript as HTMLScriptElement | null) ?? document.querySelector<HTMLScriptElement>('script[src*="widget.js"]');

function serverOrigin(): string {
  const explicit = script?.getAttribute('data-server');
  try {
    if (explicit) return new URL(explicit, location.href).origin;
    if (script?.src) return new URL(script.src, location.href).origin;
  } catch {
    /* fall back to the page's origin */
  }
  return location.origin;
}

function mount(): void {
  if (window.kefuWidget) return; // embedded twice
  const lang = pickLang(script?.getAttribute('data-lang'), navigator.language);
  const session = new Session(serverOrigin());
  const ui = new WidgetUI(session, strings(lang), lang);
  document.body.appendChild(ui.host);
  window.kefuWidget = { open: () => ui.open(), close: () => ui.close() };
  if (session.hasHistory) session.connect();
}

if (document.body) mount();
else document.addEventListener('DOMContentLoaded', mount);
