// Regenerate src/api/schema.d.ts from the server's OpenAPI (dumped from create_app, no server needed).
// Files are rewritten only when their content changed, so `make` does not rebuild for nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(web, '..');
const venvPython = join(root, '.venv', 'bin', 'python');
const python = process.env.PYTHON || (existsSync(venvPython) ? venvPython : 'python3');
const tmp = mkdtempSync(join(tmpdir(), 'lc-openapi-'));
const specPath = join(tmp, 'openapi.json');
const env = { ...process.env, PYTHONPATH: [join(root, 'src'), process.env.PYTHONPATH].filter(Boolean).join(':') };

try {
  execFileSync(python, [join(web, 'scripts', 'dump_openapi.py'), specPath], { env, stdio: 'inherit' });
} catch (err) {
  if (process.env.LIFECHAIN_REQUIRE_OPENAPI) throw err;
  console.warn(`gen-api: could not dump the OpenAPI spec with ${python}; keeping the committed types`);
  process.exit(0);
}
const out = join(web, 'src', 'api', 'schema.d.ts');
const bin = join(web, 'node_modules', '.bin', 'openapi-typescript');
const generated = join(tmp, 'schema.d.ts');
execFileSync(bin, [specPath, '-o', generated], { stdio: 'inherit' });
const next = readFileSync(generated, 'utf8');
const prev = existsSync(out) ? readFileSync(out, 'utf8') : '';
if (next !== prev) {
  writeFileSync(out, next);
  console.log('gen-api: src/api/schema.d.ts updated');
} else {
  console.log('gen-api: src/api/schema.d.ts unchanged');
}
