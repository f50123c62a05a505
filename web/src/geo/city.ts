// Which city the screens show: the server's first (default) city, else `helsinki`.
import { useEffect, useState } from 'react';
import { API, get } from '../api/client';

export function useCity(): string {
  const [city, setCity] = useState<string>(() => new URLSearchParams(location.search).get('city') ?? '');
  useEffect(() => {
    if (city) return;
    get<unknown>(`${API}/cities`)
      .then((data) => {
        const list = Array.isArray(data) ? data : ((data as { items?: unknown[] })?.items ?? []);
        const first = list[0] as { name?: string; id?: string } | string | undefined;
        const name = typeof first === 'string' ? first : (first?.name ?? first?.id);
        setCity(name ?? 'helsinki');
      })
      .catch(() => setCity('helsinki'));
  }, [city]);
  return city;
}
