/** Customers this browser opened lately, newest first, so the customer section has a list without a customer directory API. */

export interface RecentCustomer {
  id: string;
  name: string;
}

const STORAGE_KEY = 'kefu.recentCustomers';
const LIMIT = 12;

export function recentCustomers(): RecentCustomer[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is RecentCustomer => typeof x?.id === 'string' && typeof x?.name === 'string').slice(0, LIMIT) : [];
  } catch {
    return [];
  }
}

export function rememberCustomer(c: RecentCustomer): void {
  try {
    const list = [{ id: c.id, name: c.name }, ...recentCustomers().filter((x) => x.id !== c.id)].slice(0, LIMIT);
    localStorage.setItem(STORAGE_KEY, JSON.stringify(list));
  } catch {
    // storage can be disabled by privacy settings; the list is a convenience
  }
}
