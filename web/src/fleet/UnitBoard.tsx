// The unit board: every unit with its status colour and what it is assigned to.
import { useI18n } from '../i18n';
import type { Unit } from './api';
import { statusColor, statusKey } from './status';

export function UnitBoard({ units, onSelect }: { units: Unit[]; onSelect?: (u: Unit) => void }) {
  const { t } = useI18n();
  return (
    <section className="panel units" data-testid="unit-board">
      <h2>{t('units')} ({units.length})</h2>
      <table>
        <tbody>
          {units.map((u) => (
            <tr key={u.id} data-testid={`unit-${u.callsign}`} data-status={u.status} onClick={() => onSelect?.(u)}>
              <td><span className="dot" style={{ background: statusColor(u.status) }} /></td>
              <td><b>{u.callsign}</b></td>
              <td className="status-cell">{t(statusKey(u.status))}</td>
              <td className="muted">{u.incidentId ? `#${u.incidentId}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
