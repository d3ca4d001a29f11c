import assert from 'node:assert/strict';
import fs from 'fs';
import path from 'path';

const root = path.join(__dirname, '..', '..');
const BASES = { sessions: 'clawflow-sessions', session: 'clawflow-session', 'session-end': 'clawflow-session-end' } as const;
const catalog = (lang: string, base: string) => JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, `${base}.json`), 'utf8'));
const has = (obj: any, key: string) => typeof key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj) === 'string';

describe('session gateway texts (en-US, zh-CN)', () => {
  for (const [base, type] of Object.entries(BASES)) {
    it(`${base}: every key the runtime and the editor use exists in both languages, with help`, () => {
      const src = fs.readFileSync(path.join(root, 'nodes', `${base}.ts`), 'utf8');
      const html = fs.readFileSync(path.join(root, 'nodes', `${base}.html`), 'utf8');
      const keys = new Set<string>();
      for (const m of src.matchAll(/\bt\('([^'$]+)'/g)) keys.add(`${type}.${m[1]}`);
      for (const m of html.matchAll(/data-i18n="(?:\[[a-z]+\])?([^"]+)"/g)) keys.add(m[1]);
      for (const m of html.matchAll(/this\._\('([^']+)'\)/g)) keys.add(m[1]);
      if (base === 'sessions') for (const r of ['busy', 'session_busy', 'closed', 'session_reset']) keys.add(`${type}.reply.${r}`);
      assert.ok(keys.size > 3);
      for (const lang of ['en-US', 'zh-CN']) {
        const cat = catalog(lang, base);
        const missing = [...keys].filter((k) => !has(cat, k));
        assert.deepEqual(missing, [], `${lang}/${base}.json`);
        const help = fs.readFileSync(path.join(root, 'locales', lang, `${base}.html`), 'utf8');
        assert.match(help, new RegExp(`data-help-name="${type}"`));
      }
      assert.match(html, new RegExp(`RED\\.nodes\\.registerType\\('${type}'`));
    });
  }
});
