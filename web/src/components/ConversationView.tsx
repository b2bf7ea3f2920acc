import { Alert, App, Button, Empty, Spin, Tag, Tooltip } from 'antd';
import { CheckCircleOutlined, EyeInvisibleOutlined, EyeOutlined, GlobalOutlined, SafetyCertificateOutlined } from '@ant-design/icons';
import { useMemo, useState } from 'react';
import { ApiError, OPEN_STATES } from '../api.ts';
import { errorText } from '../errors.ts';
import type { OpenConversation } from '../hooks/useConversation.ts';
import { useI18n } from '../i18n.ts';
import { Link, navigate, paths } from '../router.ts';
import { CustomerAvatar } from './CustomerAvatar.tsx';
import { MessageList } from './MessageList.tsx';
import { ReplyBox } from './ReplyBox.tsx';
import { StateTag } from './StateTag.tsx';

interface Props {
  open: OpenConversation;
  /** a message to scroll to and highlight briefly, e.g. a search hit */
  focusSeq?: number | null;
  onTyping(): void;
  onStopTyping(): void;
  onResolved(id: string): void;
}

export function ConversationView({ open, focusSeq = null, onTyping, onStopTyping, onResolved }: Props) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [resolving, setResolving] = useState(false);
  const [unmasking, setUnmasking] = useState(false);
  // 显示原文 replaces the masked text of the messages it fetched; messages that arrive later stay masked
  const original = open.original;
  const shown = useMemo(() => (original ? open.messages.map((m) => (original[m.seq] !== undefined ? { ...m, text: original[m.seq]!, unmasked: true as const } : m)) : open.messages), [open.messages, original]);

  if (!open.id) {
    return (
      <section className="kf-conversation is-empty">
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('conv.pickTitle')}>
          <span className="kf-hint">{t('conv.pickHint')}</span>
        </Empty>
      </section>
    );
  }

  if (open.error instanceof ApiError && open.error.code === 'grant_required') {
    const id = open.id;
    return (
      <section className="kf-conversation is-empty">
        <Alert
          type="warning"
          showIcon
          icon={<SafetyCertificateOutlined />}
          title={t('grant.required')}
          description={t('grant.requiredHint')}
          action={
            <Button type="primary" onClick={() => navigate(paths.grants({ kind: 'conversations', ids: [id] }))}>
              {t('grant.request')}
            </Button>
          }
        />
      </section>
    );
  }

  if (open.error) {
    const missing = open.error instanceof ApiError && open.error.status === 404;
    return (
      <section className="kf-conversation is-empty">
        <Alert type="error" showIcon title={missing ? t('conv.notFound') : t('conv.loadFailed')} description={missing ? undefined : errorText(open.error, t)} />
      </section>
    );
  }

  const c = open.conversation;
  // after 显示原文 the customer's name as written too (it is masked when it holds a number)
  const customerName = open.originalCustomer?.name ?? c?.customerName ?? open.customer?.name ?? '';
  const isOpen = c ? OPEN_STATES.includes(c.state) : false;

  const hasPii = open.messages.some((m) => (m.pii?.length ?? 0) > 0);
  const toggleOriginal = async () => {
    if (original) {
      open.hideOriginal();
      return;
    }
    setUnmasking(true);
    try {
      await open.showOriginal();
      message.info(t('unmask.shownToast'));
    } catch (err) {
      message.error(errorText(err, t));
    } finally {
      setUnmasking(false);
    }
  };

  const resolve = async () => {
    setResolving(true);
    try {
      const resolved = await open.resolve();
      message.success(t('conv.resolvedToast'));
      onResolved(resolved.id);
    } catch (err) {
      message.error(errorText(err, t));
    } finally {
      setResolving(false);
    }
  };

  return (
    <section className="kf-conversation" aria-label={customerName}>
      <header className="kf-conv-head">
        {c ? <CustomerAvatar id={c.customerId} name={customerName} size={36} /> : null}
        <div className="kf-conv-title">
          <h3>{c && customerName ? <Link to={paths.customer(c.customerId)} className="kf-conv-name" title={t('customer.details')}>{customerName}</Link> : '\u00a0'}</h3>
          <div className="kf-conv-sub">
            {c ? <StateTag state={c.state} /> : null}
            {c ? (
              <Tag icon={<GlobalOutlined />} variant="filled" style={{ marginInlineEnd: 0 }}>
                {c.channel === 'web' || c.channel === 'email' || c.channel === 'api' ? t(`channel.${c.channel}`) : c.channel}
              </Tag>
            ) : null}
            <Tooltip title={open.id}>
              <span className="kf-conv-id">#{open.id.slice(-8)}</span>
            </Tooltip>
          </div>
        </div>
        {open.mayUnmask ? (
          <Tooltip title={original ? undefined : t('unmask.hint')}>
            <Button className="kf-unmask" icon={original ? <EyeInvisibleOutlined /> : <EyeOutlined />} onClick={toggleOriginal} loading={unmasking} aria-pressed={original !== null}>
              {original ? t('unmask.hide') : t('unmask.show')}
            </Button>
          </Tooltip>
        ) : hasPii ? (
          <Tooltip title={t('unmask.requestHint')}>
            <Button type="link" className="kf-unmask-request" onClick={() => navigate(paths.grants({ kind: 'conversations', ids: [open.id!], unmask: true }))}>
              {t('unmask.request')}
            </Button>
          </Tooltip>
        ) : null}
        <Button icon={<CheckCircleOutlined />} onClick={resolve} loading={resolving} disabled={!isOpen}>
          {t('conv.resolve')}
        </Button>
      </header>
      {open.loading ? (
        <div className="kf-conv-loading">
          <Spin />
        </div>
      ) : (
        <MessageList
          key={`messages-${open.id}`}
          messages={shown}
          pending={open.pending}
          customerId={c?.customerId ?? ''}
          customerName={customerName}
          customerReadSeq={open.customerReadSeq}
          customerTyping={open.customerTyping}
          focusSeq={focusSeq}
          onRetry={open.retry}
          onDiscard={open.discard}
        />
      )}
      {c && !isOpen ? (
        <div className="kf-conv-closed">
          <CheckCircleOutlined /> {t('conv.resolvedBanner')}
        </div>
      ) : (
        <ReplyBox key={`reply-${open.id}`} conversationId={open.id} disabled={open.loading} onSend={open.send} onTyping={onTyping} onStopTyping={onStopTyping} />
      )}
    </section>
  );
}
