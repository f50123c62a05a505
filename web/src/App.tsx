// Three faces of Lifechain, one bundle: /console (dispatcher), /volunteer (first responder PWA), /crew (ambulance).
import { useEffect, useState } from 'react';
import { RequireLogin } from './auth/session';
import { Console } from './dispatch/Console';
import { CrewApp } from './fleet/CrewApp';
import { LangSwitch, useI18n } from './i18n';
import { VolunteerApp } from './volunteers/VolunteerApp';
import { useCity } from './geo/city';
import { MapView } from './geo/MapView';
import { typed } from './api/client';

export function App() {
  const { t } = useI18n();
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const city = useCity();
  const [version, setVersion] = useState('');
  useEffect(() => {
    typed.GET('/api/v1/health').then(({ data }) => setVersion(String((data as { version?: string } | undefined)?.version ?? ''))).catch(() => undefined);
  }, []);
  useEffect(() => {
    document.title = `${t('app_name')}`;
  }, [t]);
  if (path.startsWith('/map')) {
    return <div className="fullmap" data-testid="city-map">{city && <MapView city={city} points={[]} />}<div className="fullmap-head"><b>{t('app_name')}</b> · {city} <LangSwitch /></div></div>;
  }
  if (path.startsWith('/console')) {
    return <RequireLogin title={t('console')}>{(me, out) => <Console me={me} city={city} onSignOut={out} />}</RequireLogin>;
  }
  if (path.startsWith('/volunteer')) {
    return <RequireLogin title={t('volunteer_app')}>{(me, out) => <VolunteerApp me={me} city={city} onSignOut={out} />}</RequireLogin>;
  }
  if (path.startsWith('/crew')) {
    return <RequireLogin title={t('crew_app')}>{(me, out) => <CrewApp me={me} city={city} onSignOut={out} />}</RequireLogin>;
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
      </nav>
      <p className="muted small" data-testid="version">v{version}</p>
    </div>
  );
}
