// The signed-in user (cookie session from POST /auth/login; /auth/me says who we are).
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { API, ApiError, get, post } from '../api/client';
import { LangSwitch, useI18n } from '../i18n';

export interface Me {
  id?: number;
  username: string;
  role: string;
  roles?: string[];
  display_name?: string;
  unit_id?: number | null;
  volunteer_id?: number | null;
  hospital_id?: number | null;
  [k: string]: unknown;
}

export function useMe() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const refresh = useCallback(async () => {
    try {
      setMe(normaliseMe(await get<Record<string, unknown>>(`${API}/auth/me`)));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) setMe(null);
      else setMe(null);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  return { me, refresh, setMe };
}

function normaliseMe(raw: Record<string, unknown>): Me {
  const user = (raw.user as Record<string, unknown>) ?? raw;
  const roles = Array.isArray(user.roles) ? (user.roles as string[]) : undefined;
  return { ...user, username: String(user.username ?? user.name ?? ''), role: String(user.role ?? roles?.[0] ?? ''), roles } as Me;
}

export async function logout(): Promise<void> {
  try {
    await post(`${API}/auth/logout`);
  } catch {
    /* the cookie may already be gone */
  }
}

export function LoginForm({ onDone, title, hint }: { onDone: () => void; title: string; hint?: string }) {
  const { t } = useI18n();
  const [username, setUsername] = useState(hint ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setError(null);
    try {
      await post(`${API}/auth/login`, { username, password });
      onDone();
    } catch (err) {
      setError(t('login_failed', { msg: (err as Error).message }));
    }
  };
  return (
    <div className="login-page">
      <form className="login" onSubmit={submit} data-testid="login-form">
        <div className="login-head">
          <h1>{t('app_name')} · {title}</h1>
          <LangSwitch />
        </div>
        <label>
          {t('username')}
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        <label>
          {t('password')}
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <div className="error" role="alert">{error}</div>}
        <button type="submit" className="primary big">{t('login')}</button>
        <p className="muted">{t('demo_users')}</p>
      </form>
    </div>
  );
}

/** Render children once signed in; otherwise the sign-in form. */
export function RequireLogin({ title, children }: { title: string; children: (me: Me, signOut: () => void) => ReactNode }) {
  const { me, refresh, setMe } = useMe();
  const { t } = useI18n();
  if (me === undefined) return <div className="center muted">{t('loading')}</div>;
  if (me === null) return <LoginForm title={title} onDone={refresh} />;
  return <>{children(me, () => void logout().then(() => setMe(null)))}</>;
}
