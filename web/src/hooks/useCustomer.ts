import { useEffect, useState } from 'react';
import { api, type ConversationSummary, type Customer } from '../api.ts';

interface CustomerDetail {
  customer: Customer | null;
  conversations: ConversationSummary[];
  loading: boolean;
  error: unknown;
}

/** The customer behind the open conversation and all their conversations; refetched when refreshKey changes. */
export function useCustomer(customerId: string | null, refreshKey: string): CustomerDetail {
  const [detail, setDetail] = useState<CustomerDetail>({ customer: null, conversations: [], loading: false, error: null });

  useEffect(() => {
    if (!customerId) {
      setDetail({ customer: null, conversations: [], loading: false, error: null });
      return;
    }
    let current = true;
    setDetail((d) => ({ ...d, loading: true, error: null, ...(d.customer?.id === customerId ? {} : { customer: null, conversations: [] }) }));
    api.customer(customerId).then(
      (res) => current && setDetail({ customer: res.customer, conversations: res.conversations, loading: false, error: null }),
      (error: unknown) => current && setDetail({ customer: null, conversations: [], loading: false, error }),
    );
    return () => {
      current = false;
    };
  }, [customerId, refreshKey]);

  return detail;
}
