// Validate an AsyncAPI document with the official parser; exit 1 on any error-level finding.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs ASYNCAPI.yaml");
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, "utf8"));
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
for (const d of diagnostics) {
  const level = d.severity === DiagnosticSeverity.Error ? "error" : "note";
  console.log(`${level}: ${d.code}: ${d.message} at ${d.path.join(".")}`);
}
// every message must say what it carries (issue 17): a payload schema that is not empty
const untyped = document === undefined ? [] : document.allMessages().all().filter((m) => {
  const json = m.payload()?.json();
  return !json || !(json.properties || json.oneOf || json.anyOf || json.allOf || json.$ref);
});
for (const m of untyped) {
  console.log(`error: no-payload: message ${m.title() ?? m.id()} has no payload schema`);
}
if (errors.length > 0 || untyped.length > 0 || document === undefined) {
  console.error(`${path}: ${errors.length + untyped.length} error(s); not a valid AsyncAPI document`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()} — ${document.channels().length} channels`);
