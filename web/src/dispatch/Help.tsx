// The keyboard shortcuts overlay (`?`).
import { useI18n, type Key } from '../i18n';

export const SHORTCUTS: [string, Key][] = [
  ['N', 'sc_new'],
  ['D', 'sc_dispatch'],
  ['J / ↓', 'sc_next'],
  ['K / ↑', 'sc_prev'],
  ['1 … 9', 'sc_yes_no'],
  ['X', 'sc_cancel'],
  ['?', 'sc_help'],
  ['Esc', 'sc_escape'],
];

export function Help({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  return (
    <div className="overlay" role="dialog" aria-label={t('shortcuts_title')} data-testid="help" onClick={onClose}>
      <div className="dialog" onClick={(e) => e.stopPropagation()}>
        <h2>{t('shortcuts_title')}</h2>
        <table>
          <tbody>
            {SHORTCUTS.map(([k, label]) => (
              <tr key={k}><td><kbd>{k}</kbd></td><td>{t(label)}</td></tr>
            ))}
          </tbody>
        </table>
        <button onClick={onClose}>{t('close')}</button>
      </div>
    </div>
  );
}
