/** The widget's DOM: a launcher and a chat panel inside a shadow root, rendered from the Session state. */
import type { Strings } from './i18n.ts';
import type { Message, Pending, Session } from './session.ts';

const CSS = `
:host{all:initial}
*{box-sizing:border-box}
[hidden]{display:none!important}
.root{font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Zen Hei",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2329;-webkit-font-smoothing:antialiased;-webkit-tap-highlight-color:transparent}
button{font:inherit;cursor:pointer}
.launcher{position:fixed;right:24px;bottom:24px;display:flex;align-items:center;gap:8px;height:52px;padding:0 22px 0 18px;border:0;border-radius:26px;background:#1677ff;color:#fff;font-size:15px;font-weight:600;letter-spacing:.5px;box-shadow:0 6px 20px rgba(22,119,255,.38),0 2px 6px rgba(0,0,0,.12);transition:transform .15s,box-shadow .15s,background .15s}
.launcher:hover{background:#4096ff;transform:translateY(-2px);box-shadow:0 10px 26px rgba(22,119,255,.45),0 2px 6px rgba(0,0,0,.12)}
.launcher:focus-visible,.close:focus-visible,.send:focus-visible,.retry:focus-visible{outline:3px solid rgba(22,119,255,.45);outline-offset:2px}
.launcher svg{width:22px;height:22px;flex:none}
.badge{position:absolute;top:-6px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#ff4d4f;color:#fff;font-size:12px;font-weight:600;line-height:20px;text-align:center;box-shadow:0 0 0 2px #fff}
.panel{position:fixed;right:24px;bottom:24px;width:380px;height:600px;max-height:calc(100vh - 48px);display:flex;flex-direction:column;background:#fff;border-radius:16px;overflow:hidden;box-shadow:0 12px 48px rgba(0,0,0,.18),0 2px 8px rgba(0,0,0,.08);animation:kf-in .18s ease-out}
@keyframes kf-in{from{opacity:0;transform:translateY(12px) scale(.98)}to{opacity:1;transform:none}}
.head{display:flex;align-items:center;gap:12px;padding:14px 12px 14px 16px;background:linear-gradient(135deg,#1677ff,#4096ff);color:#fff;flex:none}
.avatar{width:38px;height:38px;border-radius:50%;background:rgba(255,255,255,.22);display:flex;align-items:center;justify-content:center;flex:none}
.avatar svg{width:22px;height:22px}
.titles{flex:1;min-width:0}
.title{font-size:16px;font-weight:600;line-height:1.3;margin:0}
.status{display:flex;align-items:center;gap:6px;font-size:12px;opacity:.92;margin-top:2px}
.dot{width:7px;height:7px;border-radius:50%;background:#ffd666;flex:none}
.status[data-s=connected] .dot{background:#95de64}
.status[data-s=reconnecting] .dot{background:#ff7875}
.close{width:34px;height:34px;border:0;border-radius:8px;background:transparent;color:#fff;display:flex;align-items:center;justify-content:center;flex:none}
.close:hover{background:rgba(255,255,255,.18)}
.close svg{width:18px;height:18px}
.list{flex:1;overflow-y:auto;padding:16px 14px;background:#f5f7fa;display:flex;flex-direction:column;gap:12px;overscroll-behavior:contain}
.welcome{margin:auto;max-width:260px;text-align:center;color:#8a919f;font-size:13px}
.welcome svg{width:44px;height:44px;color:#91caff;display:block;margin:0 auto 8px}
.row{display:flex;flex-direction:column;max-width:82%}
.row.customer{align-self:flex-end;align-items:flex-end}
.row.agent{align-self:flex-start;align-items:flex-start}
.row.bot,.row.system{align-self:center;align-items:center;max-width:90%}
.bubble{padding:9px 13px;border-radius:14px;white-space:pre-wrap;word-break:break-word;overflow-wrap:anywhere}
.customer .bubble{background:#1677ff;color:#fff;border-bottom-right-radius:4px}
.customer .bubble a{color:#fff}
.agent .bubble{background:#fff;color:#1f2329;border-bottom-left-radius:4px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.bot .bubble{background:#e6f4ff;border:1px solid #bae0ff;color:#1f2329}
.system .bubble{background:transparent;color:#8a919f;font-size:12px;padding:0 8px;text-align:center}
.bubble a{color:#1677ff}
.meta{display:flex;align-items:center;gap:6px;margin-top:4px;padding:0 4px;font-size:11px;color:#8a919f}
.sending .bubble{opacity:.6}
.failed .bubble{background:#fff1f0;color:#a8071a;border:1px solid #ffccc7}
.err{color:#ff4d4f}
.retry{border:0;background:none;padding:0;color:#1677ff;font-size:11px;text-decoration:underline}
.typing{flex:none;height:22px;padding:0 16px;background:#f5f7fa;color:#8a919f;font-size:12px;line-height:22px}
.typing[data-on=false] span{visibility:hidden}
.typing i{display:inline-block;width:4px;height:4px;margin-left:3px;border-radius:50%;background:currentColor;vertical-align:middle}
.typing[data-on=true] i{animation:kf-dot 1.2s infinite}
.typing[data-on=true] i:nth-child(2){animation-delay:.2s}
.typing[data-on=true] i:nth-child(3){animation-delay:.4s}
@keyframes kf-dot{0%,60%,100%{opacity:.25}30%{opacity:1}}
.form{flex:none;display:flex;align-items:flex-end;gap:8px;padding:10px 12px 12px;border-top:1px solid #eef0f3;background:#fff;margin:0}
textarea{flex:1;min-width:0;height:40px;min-height:40px;max-height:120px;resize:none;margin:0;padding:8px 12px;border:1px solid #d9dde3;border-radius:10px;background:#fff;color:#1f2329;font:inherit;line-height:22px;outline:none;transition:border-color .15s,box-shadow .15s}
textarea::placeholder{color:#a8adb7}
textarea:focus{border-color:#1677ff;box-shadow:0 0 0 3px rgba(22,119,255,.15)}
.send{height:40px;padding:0 18px;border:0;border-radius:10px;background:#1677ff;color:#fff;font-weight:600;flex:none;transition:background .15s}
.send:hover{background:#4096ff}
.send:disabled{background:#c9cdd4;cursor:default}
@media (max-width:480px){
.panel{top:0;left:0;right:0;bottom:0;width:100%;height:100%;max-height:none;border-radius:0}
.launcher{right:16px;bottom:16px}
textarea{font-size:16px}
}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
`;

const ICON_CHAT =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 11.5a8.4 8.4 0 0 1-9 8.4 9 9 0 0 1-3.9-.9L3 20.5l1.5-4.3A8 8 0 0 1 3 11.5 8.4 8.4 0 0 1 12 3a8.4 8.4 0 0 1 9 8.5z"/><path d="M8 10h8M8 14h5"/></svg>';
const ICON_AGENT =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M4 14v-2a8 8 0 0 1 16 0v2"/><rect x="2.5" y="13" width="4" height="6" rx="1.5"/><rect x="17.5" y="13" width="4" height="6" rx="1.5"/><path d="M19.5 19a3 3 0 0 1-3 3H13"/></svg>';
const ICON_CLOSE =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const k of Object.keys(attrs)) e.setAttribute(k, attrs[k]!);
  for (const c of children) e.append(c);
  return e;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function formatTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return hm;
  const md = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return d.getFullYear() === now.getFullYear() ? `${md} ${hm}` : `${d.getFullYear()}-${md} ${hm}`;
}

/** text with http(s) links made clickable; everything goes in as text nodes, never as HTML */
function richText(text: string): (Node | string)[] {
  const out: (Node | string)[] = [];
  const re = /https?:\/\/[^\s<>"'，。！？）]+/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(el('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer nofollow' }, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export class WidgetUI {
  readonly host: HTMLElement;
  private readonly launcher: HTMLButtonElement;
  private readonly badge: HTMLSpanElement;
  private readonly panel: HTMLElement;
  private readonly status: HTMLElement;
  private readonly statusText: HTMLSpanElement;
  private readonly list: HTMLElement;
  private readonly welcome: HTMLElement;
  private readonly typing: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly rows = new Map<string, HTMLElement>();
  private isOpen = false;

  constructor(private readonly session: Session, private readonly t: Strings, lang: string) {
    this.host = document.createElement('kefu-widget');
    // inline !important beats any host-page rule, so a page cannot hide or move the container
    this.host.setAttribute('style', 'all:initial!important;position:fixed!important;z-index:2147483000!important;right:0!important;bottom:0!important;width:0!important;height:0!important;display:block!important;transform:none!important');
    const root = this.host.attachShadow({ mode: 'open' });
    const style = el('style');
    style.textContent = CSS;

    this.badge = el('span', { class: 'badge', hidden: '' });
    this.launcher = el('button', { type: 'button', class: 'launcher', 'aria-label': t.launcher, 'aria-expanded': 'false', 'aria-controls': 'kefu-panel', 'aria-haspopup': 'dialog' });
    this.launcher.innerHTML = ICON_CHAT;
    this.launcher.append(el('span', {}, t.launcher), this.badge);

    const avatar = el('div', { class: 'avatar' });
    avatar.innerHTML = ICON_AGENT;
    this.statusText = el('span', {}, t.connecting);
    this.status = el('div', { class: 'status', role: 'status', 'aria-live': 'polite', 'data-s': 'connecting' }, el('span', { class: 'dot', 'aria-hidden': 'true' }), this.statusText);
    const close = el('button', { type: 'button', class: 'close', 'aria-label': t.close, title: t.close });
    close.innerHTML = ICON_CLOSE;
    const head = el('div', { class: 'head' }, avatar, el('div', { class: 'titles' }, el('h2', { class: 'title', id: 'kefu-title' }, t.title), this.status), close);

    this.welcome = el('div', { class: 'welcome' });
    this.welcome.innerHTML = ICON_CHAT;
    this.welcome.append(t.welcome);
    this.list = el('div', { class: 'list', role: 'log', 'aria-live': 'polite', 'aria-label': t.log, tabindex: '0' }, this.welcome);
    this.typing = el('div', { class: 'typing', 'aria-live': 'polite', 'data-on': 'false' }, el('span', {}, t.typing, el('i'), el('i'), el('i')));

    this.input = el('textarea', { rows: '1', 'aria-label': t.input, placeholder: t.placeholder, title: t.hint, maxlength: '5000', enterkeyhint: 'send' });
    this.sendButton = el('button', { type: 'submit', class: 'send', 'aria-label': t.send, disabled: '' }, t.send);
    const form = el('form', { class: 'form' }, this.input, this.sendButton);

    this.panel = el('section', { class: 'panel', id: 'kefu-panel', role: 'dialog', 'aria-labelledby': 'kefu-title', hidden: '' }, head, this.list, this.typing, form);
    root.append(style, el('div', { class: 'root', lang }, this.launcher, this.panel));

    this.launcher.addEventListener('click', () => this.open());
    close.addEventListener('click', () => this.close());
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !e.isComposing) {
        e.stopPropagation();
        this.close();
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (e) => {
      // never send while an IME (pinyin…) is composing: that Enter picks a candidate
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.autosize();
      this.sendButton.disabled = !this.input.value.trim();
      if (this.input.value) this.session.typed();
    });
    this.list.addEventListener('click', (e) => {
      const target = e.target as HTMLElement;
      const id = target && target.getAttribute && target.getAttribute('data-retry');
      if (id) this.session.retry(id);
    });
    document.addEventListener('visibilitychange', () => this.syncVisibility());
    session.onChange(() => this.render());
    this.render();
  }

  open(): void {
    if (this.isOpen) return;
    this.isOpen = true;
    this.session.connect();
    this.panel.hidden = false;
    this.launcher.hidden = true;
    this.launcher.setAttribute('aria-expanded', 'true');
    this.render();
    this.list.scrollTop = this.list.scrollHeight;
    this.syncVisibility();
    this.input.focus();
  }

  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.launcher.setAttribute('aria-expanded', 'false');
    this.syncVisibility();
    this.launcher.focus();
  }

  private syncVisibility(): void {
    this.session.setVisible(this.isOpen && document.visibilityState !== 'hidden');
  }

  private submit(): void {
    const text = this.input.value;
    if (!text.trim()) return;
    this.session.send(text);
    this.input.value = '';
    this.sendButton.disabled = true;
    this.autosize();
    this.input.focus();
  }

  private autosize(): void {
    this.input.style.height = '40px';
    if (!this.input.value) return; // an empty box stays one line (the placeholder would count in scrollHeight)
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 120)}px`;
  }

  private render(): void {
    const s = this.session;
    const t = this.t;
    this.status.setAttribute('data-s', s.status);
    this.statusText.textContent = s.status === 'connected' ? t.connected : s.status === 'reconnecting' ? t.reconnecting : t.connecting;
    this.typing.setAttribute('data-on', String(s.agentTyping));

    const unread = this.isOpen ? 0 : s.unread;
    this.badge.hidden = unread === 0;
    this.badge.textContent = unread > 99 ? '99+' : String(unread);
    this.launcher.setAttribute('aria-label', unread ? `${t.launcher}，${t.unread(unread)}` : t.launcher);

    if (!this.isOpen) return;
    const list = this.list;
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const wanted: string[] = [];
    let ownNew = false;
    for (const m of s.messages) {
      const key = `m:${m.messageId}`;
      wanted.push(key);
      if (!this.rows.has(key)) this.rows.set(key, this.messageRow(m));
    }
    for (const p of s.pending) {
      if (s.echoed(p)) continue;
      const key = `p:${p.clientId}`;
      wanted.push(key);
      const row = this.rows.get(key);
      if (!row || row.getAttribute('data-state') !== p.state) {
        const fresh = this.pendingRow(p);
        if (row) row.replaceWith(fresh);
        else ownNew = true;
        this.rows.set(key, fresh);
      }
    }
    const keep = new Set(wanted);
    for (const [key, row] of this.rows) {
      if (!keep.has(key)) {
        row.remove();
        this.rows.delete(key);
      }
    }
    // put rows in order, moving only those out of place
    let cursor: ChildNode | null = this.welcome.nextSibling;
    for (const key of wanted) {
      const row = this.rows.get(key)!;
      if (row === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(row, cursor);
    }
    this.welcome.hidden = wanted.length > 0;
    if (nearBottom || ownNew) list.scrollTop = list.scrollHeight;
  }

  private messageRow(m: Message): HTMLElement {
    const kind = m.sender.kind;
    const body = m.type === 'text' || m.type === 'event' || !m.type ? m.text : m.text || (this.t as unknown as Record<string, string>)[m.type] || m.text;
    const row = el('div', { class: `row ${kind}`, 'data-seq': String(m.seq) }, el('div', { class: 'bubble' }, ...richText(body || '')));
    if (kind !== 'system') row.append(el('div', { class: 'meta' }, el('time', { datetime: m.createdAt }, formatTime(m.createdAt))));
    return row;
  }

  private pendingRow(p: Pending): HTMLElement {
    const meta = el('div', { class: 'meta' });
    if (p.state === 'sending') meta.append(el('span', {}, this.t.sending));
    else meta.append(el('span', { class: 'err', title: p.error || '' }, this.t.failed), el('button', { type: 'button', class: 'retry', 'data-retry': p.clientId }, this.t.retry));
    return el('div', { class: `row customer ${p.state}`, 'data-state': p.state }, el('div', { class: 'bubble' }, ...richText(p.text)), meta);
  }
}
