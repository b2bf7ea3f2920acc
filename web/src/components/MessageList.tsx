import { Button, Spin } from 'antd';
import { CheckOutlined, ExclamationCircleFilled, RobotOutlined } from '@ant-design/icons';
import { Fragment, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { MessageView } from '../api.ts';
import { clockTime, dayLabel, fullDateTime, messageText } from '../format.ts';
import type { PendingMessage } from '../hooks/useConversation.ts';
import { useI18n } from '../i18n.ts';
import { CustomerAvatar } from './CustomerAvatar.tsx';

interface Props {
  messages: MessageView[];
  pending: PendingMessage[];
  customerId: string;
  customerName: string;
  customerReadSeq: number;
  customerTyping: boolean;
  /** scrolled into view (centred) once it is loaded, and highlighted for a moment */
  focusSeq?: number | null;
  onRetry(clientId: string): void;
  onDiscard(clientId: string): void;
}

/** How close to the bottom (px) still counts as "reading the latest": new messages then scroll into view. */
const STICK_THRESHOLD = 80;

const dayKey = (iso: string) => new Date(iso).toDateString();

/** How long a message reached from a search hit stays highlighted. */
const FLASH_MS = 2_400;

export function MessageList({ messages, pending, customerId, customerName, customerReadSeq, customerTyping, focusSeq = null, onRetry, onDiscard }: Props) {
  const { t, lang } = useI18n();
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(focusSeq === null);
  const pendingCount = useRef(pending.length);
  const focused = useRef<number | null>(null);
  const [flashSeq, setFlashSeq] = useState<number | null>(null);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    // the agent's own new reply always scrolls into view, even when they had scrolled up to reread something
    const sentNow = pending.length > pendingCount.current;
    pendingCount.current = pending.length;
    if (stick.current || sentNow) el.scrollTop = el.scrollHeight;
  }, [messages, pending, customerTyping]);

  // after the stick-to-bottom effect above, so the focused message wins over "show the latest"
  useLayoutEffect(() => {
    if (focusSeq === null) {
      focused.current = null;
      return;
    }
    if (focused.current === focusSeq) return;
    const el = scroller.current;
    const row = el?.querySelector<HTMLElement>(`[data-seq="${focusSeq}"]`);
    if (!el || !row) {
      // a seq the conversation does not have: show the latest messages as usual
      if (el && messages.length > 0) {
        focused.current = focusSeq;
        stick.current = true;
        el.scrollTop = el.scrollHeight;
      }
      return;
    }
    focused.current = focusSeq;
    stick.current = false;
    row.scrollIntoView({ block: 'center' });
    setFlashSeq(focusSeq);
  }, [focusSeq, messages]);

  useEffect(() => {
    if (flashSeq === null) return;
    const timer = setTimeout(() => setFlashSeq(null), FLASH_MS);
    return () => clearTimeout(timer);
  }, [flashSeq]);

  const onScroll = () => {
    const el = scroller.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_THRESHOLD;
  };

  // the agent's last message the customer has read carries the receipt; marking every one would be noise
  const lastReadAgentSeq = messages.reduce((acc, m) => (m.sender.kind === 'agent' && m.seq <= customerReadSeq ? m.seq : acc), 0);

  return (
    <div className="kf-messages" ref={scroller} onScroll={onScroll} role="log" aria-live="polite" aria-label={t('conv.messagesLabel')}>
      {messages[0]?.seq === 1 ? <div className="kf-msg-start">{t('conv.started', { time: fullDateTime(messages[0].createdAt, lang) })}</div> : null}
      {messages.map((m, i) => {
        const prev = messages[i - 1];
        const newDay = !prev || dayKey(prev.createdAt) !== dayKey(m.createdAt);
        // consecutive customer messages share one avatar, as in any chat app
        const continued = !newDay && prev?.sender.kind === m.sender.kind && Date.parse(m.createdAt) - Date.parse(prev.createdAt) < 5 * 60_000;
        return (
          <Fragment key={m.messageId}>
            {newDay ? (
              <div className="kf-day" role="separator">
                <span>{dayLabel(m.createdAt, lang, t)}</span>
              </div>
            ) : null}
            <MessageRow
              message={m}
              continued={continued}
              customerId={customerId}
              customerName={customerName}
              read={m.seq === lastReadAgentSeq}
              focused={m.seq === focusSeq}
              flash={m.seq === flashSeq}
            />
          </Fragment>
        );
      })}
      {pending.map((p) => (
        <div key={p.clientId} className={`kf-msg is-agent is-pending${p.status === 'failed' ? ' is-failed' : ''}`} data-pending-status={p.status}>
          <div className="kf-msg-col">
            <div className="kf-bubble">{p.text}</div>
            <div className="kf-msg-meta">
              {p.status === 'sending' ? (
                <span>
                  <Spin size="small" /> {t('conv.sending')}
                </span>
              ) : (
                <span className="kf-msg-error" role="alert">
                  <ExclamationCircleFilled /> {t('conv.failed', { error: p.error ?? '' })}
                  <Button type="link" size="small" onClick={() => onRetry(p.clientId)}>
                    {t('conv.retry')}
                  </Button>
                  <Button type="link" size="small" danger onClick={() => onDiscard(p.clientId)}>
                    {t('conv.discard')}
                  </Button>
                </span>
              )}
            </div>
          </div>
        </div>
      ))}
      {customerTyping ? (
        <div className="kf-typing" aria-live="polite">
          <span className="kf-typing-dots" aria-hidden>
            <i />
            <i />
            <i />
          </span>
          {t('conv.typing')}
        </div>
      ) : null}
    </div>
  );
}

interface RowProps {
  message: MessageView;
  continued: boolean;
  customerId: string;
  customerName: string;
  read: boolean;
  focused: boolean;
  flash: boolean;
}

function MessageRow({ message: m, continued, customerId, customerName, read, focused, flash }: RowProps) {
  const { t, lang } = useI18n();
  const marks = `${focused ? ' is-focused' : ''}${flash ? ' is-flash' : ''}`;
  const focusAttrs = focused ? { 'data-focused': 'true' } : {};
  const time = (
    <time dateTime={m.createdAt} title={fullDateTime(m.createdAt, lang)}>
      {clockTime(m.createdAt, lang)}
    </time>
  );
  switch (m.sender.kind) {
    case 'customer':
      return (
        <div className={`kf-msg is-customer${continued ? ' is-continued' : ''}${marks}`} data-seq={m.seq} {...focusAttrs}>
          <div className="kf-msg-avatar">{continued ? null : <CustomerAvatar id={customerId} name={customerName} size={32} />}</div>
          <div className="kf-msg-col">
            <div className="kf-bubble">{messageText(m, t)}</div>
            <div className="kf-msg-meta">
              {time}
              {m.pii && m.pii.length > 0 ? (
                <span className={`kf-pii-warning${m.unmasked ? ' is-unmasked' : ''}`} role="note" title={t(m.unmasked ? 'unmask.shownHint' : 'conv.piiHint')}>
                  {t(m.unmasked ? 'unmask.shown' : 'conv.pii')}
                </span>
              ) : null}
            </div>
          </div>
        </div>
      );
    case 'agent':
      return (
        <div className={`kf-msg is-agent${continued ? ' is-continued' : ''}${marks}`} data-seq={m.seq} {...focusAttrs}>
          <div className="kf-msg-col">
            <div className="kf-bubble">{messageText(m, t)}</div>
            <div className="kf-msg-meta">
              {time}
              {read ? (
                <span className="kf-read">
                  <CheckOutlined /> {t('conv.read')}
                </span>
              ) : null}
            </div>
          </div>
        </div>
      );
    case 'bot':
      return (
        <div className={`kf-msg is-bot${marks}`} data-seq={m.seq} {...focusAttrs}>
          <div className="kf-bubble">
            <span className="kf-bot-label">
              <RobotOutlined /> {t('sender.bot')}
            </span>
            {messageText(m, t)}
          </div>
          <div className="kf-msg-meta">{time}</div>
        </div>
      );
    case 'system':
      return (
        <div className={`kf-msg is-system${marks}`} data-seq={m.seq} {...focusAttrs}>
          <span>
            {messageText(m, t)} · {time}
          </span>
        </div>
      );
  }
}
