// Validates an AsyncAPI document with @asyncapi/parser (the AsyncAPI
// initiative's own parser and Spectral rules): exits 1 on any diagnostic of
// error severity, printing every diagnostic; relative $refs (the payload
// schema files) are resolved from the document's directory.
//
//   NODE_PATH=.tools/node/node_modules node tests/asyncapi/validate.mjs schemas/asyncapi.json
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(process.env.NODE_PATH || '.tools/node/node_modules', 'x.js'));
let parserModule;
try {
  parserModule = require('@asyncapi/parser');
} catch (e) {
  console.error(`@asyncapi/parser is not installed: run '. scripts/tools.sh --oracle' (${e.message})`);
  process.exit(2);
}
const { Parser, fromFile } = parserModule;

const file = process.argv[2];
if (!file) {
  console.error('usage: validate.mjs ASYNCAPI.json');
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path.resolve(file)).parse();
const names = ['error', 'warning', 'information', 'hint'];
for (const d of diagnostics) {
  console.log(`${names[d.severity] ?? d.severity}: ${d.code}: ${d.message} at /${(d.path || []).join('/')}`);
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (errors.length > 0 || !document) {
  console.error(`${file}: ${errors.length} error(s); not a valid AsyncAPI document`);
  process.exit(1);
}
const channels = document.channels().length;
const messages = document.messages().length;
console.log(`${file}: valid AsyncAPI ${document.version()} with ${channels} channels and ${messages} messages`);
