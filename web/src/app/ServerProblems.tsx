// What the server works around (`/health`'s problems), shown on the staff's screens: the dispatch console, the crew
// app and planning. Not on the volunteers' app: its users are the public, and cannot call the operator.
import { pick, useI18n } from '../i18n';
import { useServerProblems } from './health';

/** The problems of the volunteers' alerting: a crew does not alert volunteers, so for them these are noise. */
export const ALERTING_PROBLEMS: readonly string[] = ['alert_policy_kept', 'alert_policy_refused'];

/** A banner listing the server's problems in the screen's language (but those whose code is in `hide`), or nothing
 * while it has none. */
export function ServerProblems({ hide = [] }: { hide?: readonly string[] }) {
  const { t, lang } = useI18n();
  const problems = useServerProblems().filter((p) => !hide.includes(p.code));
  if (problems.length === 0) return null;
  return (
    <div className="banner-problems" role="status" data-testid="server-problems">
      <b>{t('server_problems')}</b>
      <ul>{problems.map((p) => <li key={`${p.code} ${p.city ?? ''}`} data-code={p.code}>{pick(p.text, lang) ?? p.code}</li>)}</ul>
    </div>
  );
}
