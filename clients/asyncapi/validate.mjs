// Validate an AsyncAPI document with the official parser (@asyncapi/parser).
// Usage: node validate.mjs FILE. Prints the diagnostics as JSON lines; exit code 1 when
// any has severity 0 (error) or the document could not be parsed, else 0.
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.mjs FILE');
  process.exit(2);
}
const text = await readFile(file, 'utf8');
const { document, diagnostics } = await new Parser().parse(text, { source: file });
for (const d of diagnostics) {
  console.log(JSON.stringify({ severity: d.severity, code: d.code, message: d.message, path: d.path }));
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length > 0) {
  console.error(`${file}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(JSON.stringify({ ok: true, channels: document.channels().all().map((c) => c.address()) }));
