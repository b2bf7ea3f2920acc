import { Alert, App, Button, Empty, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag } from 'antd';
import { ReloadOutlined } from '@ant-design/icons';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, orgApi, type AgentGroup, type OrgUser, type OrgView } from '../api.ts';
import { errorText } from '../errors.ts';
import { useI18n, type Translate } from '../i18n.ts';

/** The server's words for what went wrong, in the console's language where we know the case. */
function orgErrorText(err: unknown, t: Translate, name?: string, kind?: 'department' | 'group'): string {
  if (err instanceof ApiError) {
    if (err.code === 'name_taken') return t('org.nameTaken', { name: name ?? '' });
    if (err.code === 'in_use') return t(kind === 'department' ? 'org.departmentInUse' : 'org.groupInUse', { name: name ?? '' });
    if (err.status === 403 && err.code === 'forbidden') return t('org.forbidden');
    if (err.status === 404) return t('org.notFound', { message: err.message });
    if (err.status === 400) return t('error.server', { message: err.message });
  }
  return errorText(err, t);
}

const userLabel = (u: OrgUser) => (u.displayName && u.displayName !== u.login ? `${u.displayName} (${u.login})` : u.login);

/**
 * 组织架构: departments, their groups (售前/售后/技术/VIP…) and who belongs where. Admins change it; everyone else who
 * opens it reads it. What the caller may do comes from the server (GET /api/v1/org → may), the one policy.
 */
export function OrgPage() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [org, setOrg] = useState<OrgView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [depForm] = Form.useForm<{ name: string }>();
  const [groupForm] = Form.useForm<{ name: string; departmentId?: string }>();
  /** the department or group being renamed (the dialog is open while set) */
  const [renaming, setRenaming] = useState<{ kind: 'department' | 'group'; id: string; name: string } | null>(null);

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      setOrg(await orgApi.get());
    } catch (err) {
      setError(errorText(err, t));
    } finally {
      setLoading(false);
    }
  }, [t]);
  useEffect(() => void load(), [load]);

  /** runs one change, tells how it went, and reloads the organisation either way (someone else may have changed it) */
  const change = useCallback(
    async (key: string, run: () => Promise<unknown>, done: string, name?: string, kind?: 'department' | 'group') => {
      setBusy(key);
      try {
        await run();
        message.success(done);
        return true;
      } catch (err) {
        message.error(orgErrorText(err, t, name, kind), 6);
        return false;
      } finally {
        setBusy(null);
        await load();
      }
    },
    [load, message, t],
  );

  const users = useMemo(() => new Map((org?.users ?? []).map((u) => [u.id, u])), [org]);
  const departments = useMemo(() => new Map((org?.departments ?? []).map((d) => [d.id, d])), [org]);
  const manage = org?.may.manage ?? false;

  if (!org) {
    return (
      <main className="kf-page kf-org" aria-label={t('nav.org')}>
        <h1 className="kf-page-title">{t('nav.org')}</h1>
        {error ? (
          <Alert type="error" showIcon message={t('org.loadFailed')} description={error} action={<Button onClick={() => void load()}>{t('org.retry')}</Button>} />
        ) : (
          <Table loading={loading} dataSource={[]} columns={[]} />
        )}
      </main>
    );
  }

  const addDepartment = async ({ name }: { name: string }) => {
    const n = name.trim();
    if (await change('department', () => orgApi.addDepartment(n), t('org.departmentCreated', { name: n }), n)) depForm.resetFields();
  };
  const addGroup = async ({ name, departmentId }: { name: string; departmentId?: string }) => {
    const n = name.trim();
    if (await change('group', () => orgApi.addGroup(n, departmentId ?? null), t('org.groupCreated', { name: n }), n)) groupForm.resetFields();
  };

  const departmentName = (id: string | null) => (id ? (departments.get(id)?.name ?? id) : '—');
  const rename = async (to: string) => {
    if (!renaming) return;
    const { kind, id, name } = renaming;
    const n = to.trim();
    const run = kind === 'department' ? () => orgApi.renameDepartment(id, n) : () => orgApi.updateGroup(id, { name: n });
    if (await change(`rename:${id}`, run, t('org.renamed', { from: name, to: n }), n, kind)) setRenaming(null);
  };
  /** 重命名 and 删除 of one department or group row */
  const rowActions = (kind: 'department' | 'group', id: string, name: string) => (
    <Space size={4}>
      <Button size="small" type="link" onClick={() => setRenaming({ kind, id, name })} aria-label={`${t('org.rename')} ${name}`}>
        {t('org.rename')}
      </Button>
      <Popconfirm
        title={t(kind === 'department' ? 'org.departmentDeleteConfirm' : 'org.groupDeleteConfirm', { name })}
        onConfirm={() => void change(`delete:${id}`, kind === 'department' ? () => orgApi.deleteDepartment(id) : () => orgApi.deleteGroup(id), t(kind === 'department' ? 'org.departmentDeleted' : 'org.groupDeleted', { name }), name, kind)}
      >
        <Button size="small" type="link" danger loading={busy === `delete:${id}`} aria-label={`${t('org.delete')} ${name}`}>
          {t('org.delete')}
        </Button>
      </Popconfirm>
    </Space>
  );
  const departmentOptions = org.departments.map((d) => ({ value: d.id, label: d.name }));

  return (
    <main className="kf-page kf-org" aria-label={t('nav.org')}>
      <div className="kf-org-head">
        <h1 className="kf-page-title">{t('nav.org')}</h1>
        <Button icon={<ReloadOutlined />} onClick={() => void load()} loading={loading} aria-label={t('org.retry')} />
      </div>
      <p className="kf-hint">{t('org.hint')}</p>
      {!manage ? <Alert type="info" showIcon message={t('org.readOnly')} style={{ marginBottom: 12 }} /> : null}

      <section className="kf-org-section" aria-label={t('org.departments')}>
        <h2>{t('org.departments')}</h2>
        {manage ? (
          <Form form={depForm} name="org-department" layout="inline" onFinish={addDepartment} className="kf-org-form">
            <Form.Item name="name" label={t('org.departmentName')} rules={[{ required: true, whitespace: true, message: t('org.nameRequired') }, { max: 50 }]}>
              <Input placeholder={t('org.departmentPlaceholder')} maxLength={50} style={{ width: 220 }} />
            </Form.Item>
            <Button type="primary" htmlType="submit" loading={busy === 'department'}>
              {t('org.addDepartment')}
            </Button>
          </Form>
        ) : null}
        <Table
          className="kf-org-departments"
          rowKey="id"
          size="small"
          pagination={false}
          dataSource={org.departments}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('org.emptyDepartments')} /> }}
          columns={[
            { title: t('org.col.name'), dataIndex: 'name' },
            { title: t('org.col.groups'), render: (_, d) => org.groups.filter((g) => g.departmentId === d.id).map((g) => <Tag key={g.id}>{g.name}</Tag>) },
            { title: t('org.col.people'), render: (_, d) => org.users.filter((u) => u.departmentId === d.id).map((u) => <Tag key={u.id}>{userLabel(u)}</Tag>) },
            ...(manage ? [{ title: t('org.col.actions'), width: 150, render: (_: unknown, d: { id: string; name: string }) => rowActions('department', d.id, d.name) }] : []),
          ]}
        />
      </section>

      <section className="kf-org-section" aria-label={t('org.groups')}>
        <h2>{t('org.groups')}</h2>
        {manage ? (
          <Form form={groupForm} name="org-group" layout="inline" onFinish={addGroup} className="kf-org-form">
            <Form.Item name="name" label={t('org.groupName')} rules={[{ required: true, whitespace: true, message: t('org.nameRequired') }, { max: 50 }]}>
              <Input placeholder={t('org.groupPlaceholder')} maxLength={50} style={{ width: 220 }} />
            </Form.Item>
            <Form.Item name="departmentId" label={t('org.groupDepartment')}>
              <Select allowClear placeholder={t('org.noDepartment')} options={departmentOptions} style={{ width: 180 }} aria-label={t('org.groupDepartment')} />
            </Form.Item>
            <Button type="primary" htmlType="submit" loading={busy === 'group'}>
              {t('org.addGroup')}
            </Button>
          </Form>
        ) : null}
        <Table<AgentGroup>
          className="kf-org-groups"
          rowKey="id"
          size="small"
          pagination={false}
          dataSource={org.groups}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('org.emptyGroups')} /> }}
          columns={[
            { title: t('org.col.name'), dataIndex: 'name', width: 140 },
            {
              title: t('org.col.department'),
              width: manage ? 200 : 140,
              render: (_, g) =>
                manage ? (
                  <DepartmentSelect
                    label={`${t('org.groupDepartment')} ${g.name}`}
                    value={g.departmentId}
                    options={departmentOptions}
                    width={180}
                    disabled={busy === `move:${g.id}`}
                    onChange={(v) => void change(`move:${g.id}`, () => orgApi.updateGroup(g.id, { departmentId: v }), t('org.groupMoved', { group: g.name, department: v ? departmentName(v) : t('org.noDepartment') }), g.name, 'group')}
                  />
                ) : (
                  departmentName(g.departmentId)
                ),
            },
            {
              title: t('org.col.members'),
              render: (_, g) => (
                <Space wrap size={[4, 4]}>
                  {g.memberIds.length === 0 ? <span className="kf-muted">{t('org.emptyMembers')}</span> : null}
                  {g.memberIds.map((id) => {
                    const u = users.get(id);
                    const label = u ? userLabel(u) : id;
                    return manage ? (
                      <Popconfirm key={id} title={t('org.removeConfirm', { login: label, group: g.name })} onConfirm={() => void change(`remove:${g.id}:${id}`, () => orgApi.removeMember(g.id, id), t('org.memberRemoved', { login: label, group: g.name }))}>
                        <Tag closable onClose={(e) => e.preventDefault()} closeIcon={<span aria-label={`${t('org.removeMember')} ${label}`}>×</span>}>
                          {label}
                        </Tag>
                      </Popconfirm>
                    ) : (
                      <Tag key={id}>{label}</Tag>
                    );
                  })}
                </Space>
              ),
            },
            ...(manage ? [{ title: t('org.addMember'), width: 280, render: (_: unknown, g: AgentGroup) => <AddMember group={g} users={org.users} busy={busy === `add:${g.id}`} onAdd={(u) => void change(`add:${g.id}`, () => orgApi.addMember(g.id, u.id), t('org.memberAdded', { login: userLabel(u), group: g.name }))} /> }] : []),
            ...(manage ? [{ title: t('org.col.actions'), width: 150, render: (_: unknown, g: AgentGroup) => rowActions('group', g.id, g.name) }] : []),
          ]}
        />
      </section>

      <section className="kf-org-section" aria-label={t('org.people')}>
        <h2>{t('org.people')}</h2>
        <Table<OrgUser>
          className="kf-org-people"
          rowKey="id"
          size="small"
          pagination={false}
          dataSource={org.users}
          columns={[
            { title: t('org.col.login'), dataIndex: 'login' },
            { title: t('org.col.displayName'), dataIndex: 'displayName' },
            { title: t('org.col.role'), dataIndex: 'role', render: (r: OrgUser['role']) => t(`role.${r}`) },
            { title: t('org.col.status'), dataIndex: 'status', render: (s: OrgUser['status']) => (s === 'disabled' ? <Tag color="red">{t('org.disabled')}</Tag> : null) },
            { title: t('org.col.groups'), render: (_, u) => org.groups.filter((g) => g.memberIds.includes(u.id)).map((g) => <Tag key={g.id}>{g.name}</Tag>) },
            {
              title: t('org.col.department'),
              width: 220,
              render: (_, u) =>
                manage ? (
                  <DepartmentSelect
                    label={`${t('org.col.department')} ${u.login}`}
                    value={u.departmentId}
                    options={departmentOptions}
                    width={200}
                    disabled={busy === `dep:${u.id}`}
                    onChange={(v) => void change(`dep:${u.id}`, () => orgApi.setDepartment(u.id, v), t('org.departmentSet', { login: u.login, department: v ? departmentName(v) : t('org.noDepartment') }))}
                  />
                ) : (
                  departmentName(u.departmentId)
                ),
            },
          ]}
        />
      </section>
      {renaming ? <RenameDialog key={renaming.id} name={renaming.name} busy={busy === `rename:${renaming.id}`} onSave={(to) => void rename(to)} onCancel={() => setRenaming(null)} /> : null}
    </main>
  );
}

/** The new name of a department or group; Enter saves, Esc cancels. */
function RenameDialog({ name, busy, onSave, onCancel }: { name: string; busy: boolean; onSave(to: string): void; onCancel(): void }) {
  const { t } = useI18n();
  const [form] = Form.useForm<{ name: string }>();
  return (
    <Modal open title={t('org.renameTitle', { name })} okText={t('org.save')} cancelText={t('org.cancel')} confirmLoading={busy} onOk={() => form.submit()} onCancel={onCancel}>
      <Form form={form} name="org-rename" layout="vertical" initialValues={{ name }} onFinish={({ name: to }) => onSave(to)}>
        <Form.Item name="name" label={t('org.newName')} rules={[{ required: true, whitespace: true, message: t('org.nameRequired') }, { max: 50 }]}>
          <Input maxLength={50} autoFocus />
        </Form.Item>
      </Form>
    </Modal>
  );
}

/** The department of a group or a person; cleared means none. */
function DepartmentSelect({ label, value, options, width, disabled, onChange }: { label: string; value: string | null; options: Array<{ value: string; label: string }>; width: number; disabled: boolean; onChange(departmentId: string | null): void }) {
  const { t } = useI18n();
  return <Select aria-label={label} value={value ?? undefined} allowClear placeholder={t('org.noDepartment')} options={options} style={{ width }} disabled={disabled} onChange={(v?: string) => onChange(v ?? null)} />;
}

/** Picks someone who is not in the group yet and adds them. */
function AddMember({ group, users, busy, onAdd }: { group: AgentGroup; users: OrgUser[]; busy: boolean; onAdd(user: OrgUser): void }) {
  const { t } = useI18n();
  const [picked, setPicked] = useState<string | undefined>();
  const candidates = users.filter((u) => !group.memberIds.includes(u.id) && u.status === 'active');
  return (
    <Space.Compact>
      <Select
        showSearch
        optionFilterProp="label"
        aria-label={`${t('org.memberPlaceholder')} ${group.name}`}
        placeholder={t('org.memberPlaceholder')}
        value={picked}
        onChange={setPicked}
        options={candidates.map((u) => ({ value: u.id, label: `${userLabel(u)} · ${t(`role.${u.role}`)}` }))}
        style={{ width: 200 }}
      />
      <Button
        disabled={!picked}
        loading={busy}
        onClick={() => {
          const u = users.find((x) => x.id === picked);
          if (u) onAdd(u);
          setPicked(undefined);
        }}
      >
        {t('org.addMember')}
      </Button>
    </Space.Compact>
  );
}
