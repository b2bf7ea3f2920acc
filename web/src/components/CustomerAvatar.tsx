import { Avatar } from 'antd';

const PALETTE = ['#2563eb', '#0891b2', '#7c3aed', '#db2777', '#ea580c', '#16a34a', '#0d9488', '#4f46e5'];

/** A stable colour per customer, so a name is recognisable at a glance across the inbox and the conversation. */
function colourFor(seed: string): string {
  let h = 0;
  for (const ch of seed) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length]!;
}

/** The surname of a Chinese name, the initial of a Latin one. */
function initialOf(name: string): string {
  const first = [...name.trim()][0];
  return first ? first.toUpperCase() : '?';
}

export function CustomerAvatar({ id, name, size = 40 }: { id: string; name: string; size?: number }) {
  return (
    <Avatar size={size} style={{ background: colourFor(id), flex: 'none', fontWeight: 500 }}>
      {initialOf(name)}
    </Avatar>
  );
}
