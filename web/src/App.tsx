// The faces of Lifechain, one bundle: /console (dispatcher), /volunteer (first responder PWA), /crew (ambulance),
// /planning (analyst: simulation runs and comparisons).
import { useEffect, useState, type ReactNode } from 'react';
import { RequireLogin } from './auth/session';
import { Console } from './dispatch/Console';
import { CrewApp } from './fleet/CrewApp';
import { Planning } from './planning/Planning';
import { LangSwitch, useI18n } from './i18n';
import { VolunteerApp } from './volunteers/VolunteerApp';
import { useCity } from './geo/city';
import { MapView } from './geo/MapView';
import { fetchHealth } from './app/health';

export function App() {
  const { t } = useI18n();
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const [version, setVersion] = useState('');
  useEffect(() => {
    fetchHealth().then((h) => setVersion(h.version)).catch(() => undefined);
  }, []);
  useEffect(() => {
    document.title = `${t('app_name')}`;
  }, [t]);
  // The city list (like every geo route) needs a signed-in user: each screen asks for it after sign-in.
  if (path.startsWith('/map')) {
    return (
      <RequireLogin title={t('city_map')}>
        {() => <WithCity>{(city) => <div className="fullmap" data-testid="city-map">{city && <MapView city={city} points={[]} />}<div className="fullmap-head"><b>{t('app_name')}</b> · {city} <LangSwitch /></div></div>}</WithCity>}
      </RequireLogin>
    );
  }
  if (path.startsWith('/console')) {
    return <RequireLogin title={t('console')}>{(me, out) => <WithCity>{(city) => <Console me={me} city={city} onSignOut={out} />}</WithCity>}</RequireLogin>;
  }
  if (path.startsWith('/volunteer')) {
    return <RequireLogin title={t('volunteer_app')}>{(me, out) => <WithCity>{(city) => <VolunteerApp me={me} city={city} onSignOut={out} />}</WithCity>}</RequireLogin>;
  }
  if (path.startsWith('/crew')) {
    return <RequireLogin title={t('crew_app')}>{(me, out) => <WithCity>{(city) => <CrewApp me={me} city={city} onSignOut={out} />}</WithCity>}</RequireLogin>;
  }
  if (path.startsWith('/planning')) {
    return <RequireLogin title={t('planning')}>{(me, out) => <Planning me={me} onSignOut={out} />}</RequireLogin>;
  }
  return (
    <div className="home">
      <header className="home-head">
        <h1>{t('app_name')}</h1>
        <LangSwitch />
      </header>
      <nav className="home-links">
        <a href="/console" data-testid="open-console">{t('console')}</a>
        <a href="/volunteer" data-testid="open-volunteer">{t('volunteer_app')}</a>
        <a href="/crew" data-testid="open-crew">{t('crew_app')}</a>
        <a href="/map" data-testid="open-map">{t('city_map')}</a>
        <a href="/planning" data-testid="open-planning">{t('planning')}</a>
      </nav>
      <p className="muted small" data-testid="version">v{version}</p>
    </div>
  );
}

function WithCity({ children }: { children: (city: string) => ReactNode }) {
  const city = useCity();
  return <>{children(city)}</>;
}
