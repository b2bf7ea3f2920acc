import { useEffect, useRef, useState } from 'react';
import { Button, Dropdown, Progress, Space, Typography } from 'antd';
import { DownloadOutlined } from '@ant-design/icons';
import { ApiError, exportsApi, type ExportJob } from '../api.ts';
import { useI18n } from '../i18n.ts';
import type { ArchiveFilters } from '../hooks/useArchiveSearch.ts';

/**
 * Exports what the search shows (same words and filters) as a background job on the server: progress while it runs,
 * then the file downloads. Times are written in the browser's time zone.
 */
export function ExportButton({ filters }: { filters: ArchiveFilters }) {
  const { t } = useI18n();
  const [job, setJob] = useState<ExportJob | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const poll = (id: string) => {
    timer.current = window.setTimeout(async () => {
      try {
        const { job: now } = await exportsApi.get(id);
        setJob(now);
        if (now.state === 'done') window.location.assign(exportsApi.downloadUrl(now.id));
        else if (now.state === 'failed') setError(now.error ?? 'failed');
        else poll(id);
      } catch (err) {
        setError(err instanceof ApiError ? err.message : String(err));
      }
    }, 700);
  };

  const start = async (format: 'csv' | 'xlsx') => {
    setError(null);
    const { sort: _sort, ...rest } = filters;
    const body = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== ''));
    try {
      const { job: created } = await exportsApi.start({ ...body, format, tz: Intl.DateTimeFormat().resolvedOptions().timeZone });
      setJob(created);
      poll(created.id);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  const running = job !== null && (job.state === 'queued' || job.state === 'running');
  return (
    <Space size={8} className="kf-export" data-testid="export">
      <Dropdown
        disabled={running}
        menu={{
          items: [
            { key: 'csv', label: t('export.csv') },
            { key: 'xlsx', label: t('export.xlsx') },
          ],
          onClick: ({ key }) => void start(key as 'csv' | 'xlsx'),
        }}
      >
        <Button icon={<DownloadOutlined />} loading={running}>
          {t('export.button')}
        </Button>
      </Dropdown>
      {job && running ? (
        <span className="kf-export-progress" role="status">
          <Progress type="circle" size={22} percent={Math.round(job.progress * 100)} />{' '}
          {job.totalRows ? t('export.progress', { rows: job.rows, total: job.totalRows }) : t('export.running')}
        </span>
      ) : null}
      {job && job.state === 'done' ? (
        <span role="status">
          {t('export.done', { rows: job.rows })}{' '}
          <Typography.Link href={exportsApi.downloadUrl(job.id)}>{t('export.download')}</Typography.Link>
          <Typography.Text type="secondary"> · {t('export.masked')}</Typography.Text>
        </span>
      ) : null}
      {error ? (
        <Typography.Text type="danger" role="alert">
          {t('export.failed', { error })}
        </Typography.Text>
      ) : null}
    </Space>
  );
}
