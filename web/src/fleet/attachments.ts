// Files attached to an incident (the pre-hospital ECG photo or PDF): multipart upload to the attachments API.
import { API, post } from '../api/client';

export interface Attachment {
  id: number;
  incident_id: number;
  kind: string;
  filename: string;
  content_type: string;
  size: number;
}

export function attachFile(incidentId: number, file: File, kind: string, unitId?: number): Promise<Attachment> {
  const form = new FormData();
  form.append('file', file, file.name);
  form.append('kind', kind);
  if (unitId !== undefined) form.append('unit_id', String(unitId));
  return post<Attachment>(`${API}/incidents/${incidentId}/attachments`, form);
}
