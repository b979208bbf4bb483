// Print, as one JSON document, what the official parser reads of every message of an AsyncAPI
// document: its payload schema (dereferenced), its correlation id, the servers and which channel names which.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node messages.mjs ASYNCAPI.yaml");
  process.exit(2);
}
const { document } = await new Parser().parse(await readFile(path, "utf8"));
if (document === undefined) {
  console.error(`${path}: not a valid AsyncAPI document`);
  process.exit(1);
}
const messages = document.allMessages().all().map((message) => {
  const payload = message.payload();
  const json = payload ? payload.json() : null;
  return {
    id: message.title() ?? message.id(),
    payload: json ? { keys: Object.keys(json), properties: Object.keys(json.properties ?? {}),
      oneOf: (json.oneOf ?? []).length } : null,
    correlationId: message.hasCorrelationId() ? message.correlationId().location() : null,
  };
});
const servers = document.servers().all().map((s) => ({ id: s.id(), host: s.host() }));
const channels = document.channels().all().map((c) => ({
  address: c.address(),
  servers: c.servers().all().map((s) => s.id()),
}));
console.log(JSON.stringify({ servers, channels, messages }));
