import { Button, Spin } from 'antd';
import { CheckOutlined, ExclamationCircleFilled, RobotOutlined } from '@ant-design/icons';
import { Fragment, useLayoutEffect, useRef } from 'react';
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
  onRetry(clientId: string): void;
  onDiscard(clientId: string): void;
}

/** How close to the bottom (px) still counts as "reading the latest": new messages then scroll into view. */
const STICK_THRESHOLD = 80;

const dayKey = (iso: string) => new Date(iso).toDateString();

export function MessageList({ messages, pending, customerId, customerName, customerReadSeq, customerTyping, onRetry, onDiscard }: Props) {
  const { t, lang } = useI18n();
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const pendingCount = useRef(pending.length);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    // the agent's own new reply always scrolls into view, even when they had scrolled up to reread something
    const sentNow = pending.length > pendingCount.current;
    pendingCount.current = pending.length;
    if (stick.current || sentNow) el.scrollTop = el.scrollHeight;
  }, [messages, pending, customerTyping]);

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
            <MessageRow message={m} continued={continued} customerId={customerId} customerName={customerName} read={m.seq === lastReadAgentSeq} />
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
}

function MessageRow({ message: m, continued, customerId, customerName, read }: RowProps) {
  const { t, lang } = useI18n();
  const time = (
    <time dateTime={m.createdAt} title={fullDateTime(m.createdAt, lang)}>
      {clockTime(m.createdAt, lang)}
    </time>
  );
  switch (m.sender.kind) {
    case 'customer':
      return (
        <div className={`kf-msg is-customer${continued ? ' is-continued' : ''}`} data-seq={m.seq}>
          <div className="kf-msg-avatar">{continued ? null : <CustomerAvatar id={customerId} name={customerName} size={32} />}</div>
          <div className="kf-msg-col">
            <div className="kf-bubble">{messageText(m, t)}</div>
            <div className="kf-msg-meta">{time}</div>
          </div>
        </div>
      );
    case 'agent':
      return (
        <div className={`kf-msg is-agent${continued ? ' is-continued' : ''}`} data-seq={m.seq}>
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
        <div className="kf-msg is-bot" data-seq={m.seq}>
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
        <div className="kf-msg is-system" data-seq={m.seq}>
          <span>
            {messageText(m, t)} · {time}
          </span>
        </div>
      );
  }
}
