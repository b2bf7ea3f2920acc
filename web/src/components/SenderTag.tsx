import { Tag } from 'antd';
import { Fragment } from 'react';
import type { SenderKind } from '../api.ts';
import { highlightSegments } from '../format.ts';
import { useI18n } from '../i18n.ts';

const SENDER_COLOURS: Record<SenderKind, string> = { customer: 'blue', agent: 'green', bot: 'purple', system: 'default' };

export function SenderTag({ kind }: { kind: SenderKind }) {
  const { t } = useI18n();
  return (
    <Tag color={SENDER_COLOURS[kind]} variant="filled" className="kf-sender-tag" data-sender={kind}>
      {t(`sender.${kind}`)}
    </Tag>
  );
}

/** Search terms with their hits marked, built as text nodes and <mark> elements: the snippet is never parsed as HTML. */
export function Highlighted({ text, ranges }: { text: string; ranges: ReadonlyArray<readonly [number, number]> }) {
  return (
    <>
      {highlightSegments(text, ranges).map((seg, i) => (seg.hit ? <mark key={i}>{seg.text}</mark> : <Fragment key={i}>{seg.text}</Fragment>))}
    </>
  );
}

