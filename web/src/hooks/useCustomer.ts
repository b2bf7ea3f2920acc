import { useEffect, useState } from 'react';
import { api, type ConversationSummary, type Customer } from '../api.ts';

interface CustomerDetail {
  customer: Customer | null;
  conversations: ConversationSummary[];
  /** the conversations 显示原文 may show as written */
  mayUnmask: string[];
  loading: boolean;
  error: unknown;
}

/** The customer behind the open conversation and all their conversations; refetched when refreshKey changes. */
export function useCustomer(customerId: string | null, refreshKey: string): CustomerDetail {
  const [detail, setDetail] = useState<CustomerDetail>({ customer: null, conversations: [], mayUnmask: [], loading: false, error: null });

  useEffect(() => {
    if (!customerId) {
      setDetail({ customer: null, conversations: [], mayUnmask: [], loading: false, error: null });
      return;
    }
    let current = true;
    setDetail((d) => ({ ...d, loading: true, error: null, ...(d.customer?.id === customerId ? {} : { customer: null, conversations: [], mayUnmask: [] }) }));
    api.customer(customerId).then(
      (res) => current && setDetail({ customer: res.customer, conversations: res.conversations, mayUnmask: res.mayUnmask, loading: false, error: null }),
      (error: unknown) => current && setDetail({ customer: null, conversations: [], mayUnmask: [], loading: false, error }),
    );
    return () => {
      current = false;
    };
  }, [customerId, refreshKey]);

  return detail;
}
