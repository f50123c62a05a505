// What the server works around (`/health`'s problems), shown on the staff's screens: the dispatch console, the crew
// app and planning. Not on the volunteers' app: its users are the public, and cannot call the operator.
import { pick, useI18n } from '../i18n';
import { useServerProblems } from './health';

/** A banner listing the server's problems in the screen's language, or nothing while it has none. */
export function ServerProblems() {
  const { t, lang } = useI18n();
  const problems = useServerProblems();
  if (problems.length === 0) return null;
  return (
    <div className="banner-problems" role="status" data-testid="server-problems">
      <b>{t('server_problems')}</b>
      <ul>{problems.map((p) => <li key={`${p.code} ${p.city ?? ''}`} data-code={p.code}>{pick(p.text, lang) ?? p.code}</li>)}</ul>
    </div>
  );
}
