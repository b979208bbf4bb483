// The gateway seen from another language: a TypeScript client generated from the OpenAPI
// document (@hey-api/openapi-ts), against real gateways. Customs opens a case and refers it
// to the market regulator with an Idempotency-Key, retries it (the same event comes back),
// then the regulator's system reads its inbox and acknowledges the referral.
// Run by tests/integration/test_gateway_typescript.py, which generates ./client first.
import { createClient, createConfig } from "./client/client/index.js";
import { acknowledgeInboxItemIdAckPost, inboxInboxGet, submitEventsPost } from "./client/index.js";

declare const process: { env: Record<string, string>; exit(code: number): never };

const env = process.env;
const customs = createClient(createConfig({ baseUrl: env.CUSTOMS_GATEWAY }));
const regulator = createClient(createConfig({ baseUrl: env.REGULATOR_GATEWAY }));

function fail(what: string, answer: unknown): never {
  console.error(`smoke failed: ${what}: ${JSON.stringify(answer)}`);
  process.exit(1);
}

const opened = await submitEventsPost({
  client: customs,
  body: {
    type: "case.opened",
    case_id: env.CASE_ID,
    data: {
      local_ref: "SH-CUSTOMS-2026-7",
      title: "counterfeit handbags at Yangshan port",
      ip_rights: [],
      parties: [],
      goods: [],
      opened_at: new Date().toISOString(),
    },
  },
  headers: { "Idempotency-Key": `open-${env.CASE_ID}` },
});
if (opened.response.status !== 202) fail("case.opened", opened.error);

const referral = {
  client: customs,
  body: {
    type: "referral.issued" as const,
    to: env.REGULATOR,
    case_id: env.CASE_ID,
    data: {
      referral_id: env.REFERRAL_ID,
      case_id: env.CASE_ID,
      kind: "customs_to_enforcement" as const,
      reason: "suspected counterfeit trademark goods",
      legal_basis: "Customs IP Protection Regulations, art. 27",
      summary: "1,200 handbags bearing a registered mark",
    },
  },
  headers: { "Idempotency-Key": `refer-${env.REFERRAL_ID}` },
};
const issued = await submitEventsPost(referral);
if (issued.response.status !== 202 || !issued.data) fail("referral.issued", issued.error);
const retried = await submitEventsPost(referral); // the answer was "lost": the same key again
if (retried.data?.id !== issued.data.id) fail("the retry got another event", retried.data);
if (retried.response.headers.get("Idempotent-Replayed") !== "true") fail("not replayed", null);

const itemId = `referral:${env.REFERRAL_ID}`;
let after = 0;
let found = false;
for (let round = 0; round < 10 && !found; round++) {
  const page = await inboxInboxGet({ client: regulator, query: { after, wait: 5 } });
  if (!page.data) fail("inbox", page.error);
  for (const item of page.data) {
    after = Math.max(after, item.position ?? 0);
    found ||= item.item_id === itemId;
  }
}
if (!found) fail("the referral never reached the regulator's inbox", after);
const acked = await acknowledgeInboxItemIdAckPost({
  client: regulator,
  path: { item_id: itemId },
  headers: { "Idempotency-Key": `ack-${itemId}` },
});
if (!acked.data) fail("acknowledge", acked.error);
console.log(JSON.stringify({ event: issued.data.id, replayed: true, acknowledged: acked.data }));
