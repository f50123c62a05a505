// A small i18n: the language is the browser's (zh* -> zh-CN, else en) until the user switches; the choice is kept.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { en } from './en';
import { zhCN } from './zh-CN';

export type Lang = 'en' | 'zh-CN';
export type Key = keyof typeof en;
const DICTS: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zhCN };
const STORE = 'lifechain.lang';

export function detectLang(): Lang {
  const saved = localStorage.getItem(STORE);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language];
  return langs.some((l) => l.toLowerCase().startsWith('zh')) ? 'zh-CN' : 'en';
}

export type T = (key: Key, vars?: Record<string, string | number>) => string;

interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: T;
}

const Ctx = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(detectLang);
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem(STORE, l);
    document.documentElement.lang = l;
    setLangState(l);
  }, []);
  document.documentElement.lang = lang;
  const t = useCallback<T>(
    (key, vars) => {
      let s = DICTS[lang][key] ?? en[key] ?? key;
      if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
      return s;
    },
    [lang],
  );
  const value = useMemo(() => ({ lang, setLang, t }), [lang, setLang, t]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}

/** A label from the server's {en, zh-CN} pair, or a dictionary key, or the raw value. */
export function pick(label: unknown, lang: Lang): string | undefined {
  if (label && typeof label === 'object') {
    const l = label as Record<string, string>;
    return l[lang] ?? l.en;
  }
  return typeof label === 'string' ? label : undefined;
}

export function LangSwitch() {
  const { lang, setLang } = useI18n();
  return (
    <button
      className="lang-switch"
      data-testid="lang-switch"
      onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}
      title={lang === 'en' ? '切换到中文' : 'Switch to English'}
    >
      {lang === 'en' ? '中文' : 'EN'}
    </button>
  );
}
