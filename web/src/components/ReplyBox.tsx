import { Button, Input, type GetRef } from 'antd';
import { SendOutlined } from '@ant-design/icons';
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useI18n } from '../i18n.ts';

/** Unsent text per conversation, so switching away to answer another customer loses nothing. */
const drafts = new Map<string, string>();

const MAX_LENGTH = 5000;

interface Props {
  conversationId: string;
  disabled: boolean;
  onSend(text: string): void;
  onTyping(): void;
  onStopTyping(): void;
}

export function ReplyBox({ conversationId, disabled, onSend, onTyping, onStopTyping }: Props) {
  const { t } = useI18n();
  const [text, setText] = useState(() => drafts.get(conversationId) ?? '');
  const input = useRef<GetRef<typeof Input.TextArea>>(null);

  useEffect(() => {
    if (!disabled) input.current?.focus();
  }, [conversationId, disabled]);

  const update = (value: string) => {
    setText(value);
    if (value) drafts.set(conversationId, value);
    else drafts.delete(conversationId);
    if (value.trim()) onTyping();
    else onStopTyping();
  };

  const submit = () => {
    if (!text.trim() || disabled) return;
    onSend(text);
    update('');
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter also confirms a word in a Chinese input method; that keystroke belongs to the IME, not to us
    if (e.key !== 'Enter' || e.shiftKey || e.nativeEvent.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    submit();
  };

  return (
    <div className="kf-reply">
      <Input.TextArea
        ref={input}
        value={text}
        disabled={disabled}
        maxLength={MAX_LENGTH}
        autoSize={{ minRows: 3, maxRows: 8 }}
        variant="borderless"
        placeholder={t('reply.placeholder')}
        aria-label={t('reply.label')}
        onChange={(e) => update(e.target.value)}
        onKeyDown={onKeyDown}
        onBlur={onStopTyping}
      />
      <div className="kf-reply-bar">
        <span className="kf-hint">{text.length > MAX_LENGTH * 0.9 ? `${text.length} / ${MAX_LENGTH}` : ''}</span>
        <Button type="primary" icon={<SendOutlined />} disabled={disabled || !text.trim()} onClick={submit}>
          {t('reply.send')}
        </Button>
      </div>
    </div>
  );
}
