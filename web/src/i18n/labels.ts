// Display names of the server's stable values (incident statuses, responder states and roles, natures, timeline
// kinds) in both languages; an unknown value falls back to itself with underscores as spaces.
import type { Lang } from './index';

type Labels = Record<string, [en: string, zh: string]>;

export const INCIDENT_STATUS: Labels = {
  received: ['Received', '已接警'], waiting: ['Waiting for a unit', '等待派车'], dispatched: ['Dispatched', '已派车'],
  on_scene: ['On scene', '已到现场'], transporting: ['Transporting', '转运中'], at_hospital: ['At hospital', '已到医院'],
  closed: ['Closed', '已结束'], cancelled: ['Cancelled', '已取消'],
};

export const RESPONDER_STATE: Labels = {
  alerted: ['Alerted', '已呼叫'], accepted: ['Accepted, on the way', '已接受，前往中'], declined: ['Declined', '已拒绝'],
  not_needed: ['Not needed', '无需前往'], arrived: ['Arrived', '已到达'], handed_over: ['Handed over', '已交接'],
  stood_down: ['Stood down', '已解除'],
};

export const RESPONDER_ROLE: Labels = {
  cpr: ['CPR', '心肺复苏'], aed: ['AED runner', '取AED'], coordinator: ['Coordinator', '协调'],
};

export const NATURE: Labels = {
  cardiac_arrest: ['Cardiac arrest', '心脏骤停'], choking: ['Choking', '气道异物梗阻'],
};

export const EVENT_KIND: Labels = {
  psap_call: ['Call received', '接到呼救'], dispatch_notified: ['Dispatch notified', '调度受理'],
  call_answered: ['Call answered', '接听'], location_confirmed: ['Location confirmed', '位置确认'],
  triage_answered: ['Triage answer', '问询应答'], determinant_set: ['Determinant set', '判定完成'],
  arrest_recognised: ['Arrest recognised', '识别心脏骤停'],
  first_instructed_compression: ['First instructed compression', '指导下首次按压'],
  unit_notified: ['Unit notified', '车辆受命'], unit_acknowledged: ['Unit acknowledged', '车辆确认'],
  unit_en_route: ['Unit en route', '车辆出发'], unit_on_scene: ['Unit on scene', '车辆到达现场'],
  at_patient: ['At patient', '接触患者'], transfer_of_care: ['Transfer of care', '交接'],
  left_scene: ['Left scene', '离开现场'], at_destination: ['At destination', '到达医院'],
  destination_transfer_of_care: ['Handed over at hospital', '医院交接'],
  unit_back_in_service: ['Unit back in service', '车辆恢复待命'], unit_reassigned: ['Unit reassigned', '车辆改派'],
  unit_cancelled: ['Unit cancelled', '车辆撤回'], incident_cancelled: ['Incident cancelled', '事件取消'],
  incident_closed: ['Incident closed', '事件结束'], destination_chosen: ['Destination chosen', '选定医院'],
  hospital_prenotified: ['Hospital pre-notified', '已预通知医院'], symptom_onset: ['Symptom onset', '发病'],
  arrest: ['Arrest', '心脏骤停'], first_cpr: ['First CPR', '首次心肺复苏'],
  first_defibrillation: ['First defibrillation', '首次除颤'], rosc: ['ROSC', '自主循环恢复'],
  first_medical_contact: ['First medical contact', '首次医疗接触'], prehospital_ecg: ['Pre-hospital ECG', '院前心电图'],
  ecg_transmitted: ['ECG transmitted', '心电图已传输'], attachment_added: ['File attached', '附件已上传'],
  responder_alerted: ['Volunteer alerted', '志愿者已呼叫'], responder_accepted: ['Volunteer accepted', '志愿者接受'],
  responder_declined: ['Volunteer declined', '志愿者拒绝'], responder_not_needed: ['Volunteer not needed', '志愿者无需前往'],
  responder_aed_collected: ['AED collected', '已取到AED'], responder_arrived: ['Volunteer arrived', '志愿者到达'],
  responder_cpr_started: ['Volunteer started CPR', '志愿者开始心肺复苏'],
  responder_aed_attached: ['AED attached', '已连接AED'], responder_shock_delivered: ['Shock delivered', '已电击'],
  responder_handed_over: ['Volunteer handed over', '志愿者已交接'], responders_stood_down: ['Volunteers stood down', '志愿者已解除'],
  responders_alert_failed: ['Volunteers could not be alerted', '未能呼叫志愿者'],
  note: ['Note', '备注'], correction: ['Correction', '更正'],
};

export function label(table: Labels, value: string | null | undefined, lang: Lang): string {
  if (!value) return '';
  const pair = table[value];
  return pair ? pair[lang === 'zh-CN' ? 1 : 0] : value.replaceAll('_', ' ');
}
