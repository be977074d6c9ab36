// Webhook deliveries of every platform (GET /v1/operator/webhooks/deliveries), filtered by tenant and
// status, and a replay of one with a reason (POST .../replay: a new delivery of the same event, audited).
// A compliance officer reads the log but may not replay: the buttons are not drawn for that role, and
// a refusal the API still gives is told with the roles it needs.
import { addStrings, confirmDialog, el, t, tableBox, when } from "../ft.js";
import { badge, call, fail, me, roleName, shortId, start } from "./common.js";
import { codeName as label } from "./labels.js";

addStrings({
  "hooks.title": { zh: "Webhook 投递记录", en: "Webhook deliveries" },
  "hooks.explain": { zh: "发往各平台后端的事件通知。多次发送仍未成功的投递会被放弃；排除接收方的问题后，可以重发（生成一条新的投递，事件 ID 不变，记入审计日志）。",
    en: "Event notices sent to the platforms' back ends. A delivery that kept failing is given up (dead); once the receiver is fixed it can be replayed: a new delivery of the same event id, written to the audit log." },
  "hooks.tenant": { zh: "平台（租户 ID）", en: "Platform (tenant id)" },
  "hooks.tenant_hint": { zh: "留空为全部平台", en: "empty: every platform" },
  "hooks.status": { zh: "状态", en: "Status" },
  "hooks.any_status": { zh: "全部状态", en: "Any status" },
  "hooks.limit": { zh: "最多显示", en: "Show at most" },
  "hooks.search": { zh: "查询", en: "Search" },
  "hooks.count": { zh: "共 {count} 条投递，按创建时间从新到旧排列。", en: "Deliveries: {count}, newest first." },
  "hooks.none": { zh: "没有符合条件的投递。", en: "No delivery matches." },
  "hooks.col_created": { zh: "创建时间", en: "Created" },
  "hooks.col_tenant": { zh: "平台", en: "Platform" },
  "hooks.col_kind": { zh: "事件类型", en: "Event" },
  "hooks.col_event": { zh: "事件 ID", en: "Event id" },
  "hooks.col_status": { zh: "状态", en: "Status" },
  "hooks.col_attempts": { zh: "尝试次数", en: "Attempts" },
  "hooks.col_last": { zh: "最近结果", en: "Last result" },
  "hooks.col_next": { zh: "下次尝试", en: "Next attempt" },
  "hooks.col_action": { zh: "操作", en: "Action" },
  "hooks.http": { zh: "HTTP {code}", en: "HTTP {code}" },
  "hooks.replay_of": { zh: "重发自 {id}", en: "replay of {id}" },
  "hooks.replay": { zh: "重发", en: "Replay" },
  "hooks.replay_label": { zh: "重发投递 {id}", en: "Replay delivery {id}" },
  "hooks.replay_title": { zh: "重发这条投递？", en: "Replay this delivery?" },
  "hooks.replay_text": { zh: "将向同一接收地址再次发送同一事件（事件 ID 不变，接收方可据此去重）。您的姓名和理由会记入审计日志。",
    en: "The same event goes again to the same endpoint (same event id, so the receiver can drop a duplicate). Your name and the reason are written to the audit log." },
  "hooks.reason": { zh: "重发理由（必填，至少 3 个字）", en: "Reason for the replay (required, 3 characters or more)" },
  "hooks.reason_short": { zh: "未重发：请写明理由（至少 3 个字）。", en: "Not replayed: give a reason of 3 characters or more." },
  "hooks.replayed": { zh: "已重发：新的投递 {id}，状态：{status}。", en: "Replayed: new delivery {id}, status: {status}." },
  "hooks.readonly": { zh: "您的角色（{role}）只能查看投递记录；重发需要风控分析师或管理员。", en: "Your role ({role}) can read the deliveries; replaying needs a risk analyst or an admin." },
});

const REPLAYERS = ["risk_analyst", "admin"]; // facetrust/webhooks/routes.py
let deliveries = null;
let loads = 0; // the latest list request: an older answer arriving late must not replace it
let result = null; // the last replay's outcome, kept to re-render in the other language

const mayReplay = () => me && REPLAYERS.includes(me.role);

function lastResult(d) {
  if (d.last_status_code) return t("hooks.http", { code: d.last_status_code });
  if (d.last_error) return el("span", { title: d.last_error }, label("webhook_error.", d.last_error.toLowerCase()));
  return "—";
}

function render() {
  renderResult();
  document.getElementById("hooks-readonly").hidden = mayReplay();
  if (me) document.getElementById("hooks-readonly").textContent = t("hooks.readonly", { role: roleName(me.role) });
  if (!deliveries) return;
  document.getElementById("hooks-count").textContent = deliveries.length
    ? t("hooks.count", { count: deliveries.length }) : t("hooks.none");
  const columns = [
    ["hooks.col_created", (d) => when(d.created_at), "when"],
    ["hooks.col_tenant", (d) => el("code", { title: d.tenant_id }, shortId(d.tenant_id))],
    ["hooks.col_kind", (d) => [label("webhook_kind.", d.kind), el("br"), el("code", { class: "muted" }, d.kind)]],
    ["hooks.col_event", (d) => [el("code", { title: d.event_id }, shortId(d.event_id)),
      d.replay_of ? el("div", { class: "small muted" }, t("hooks.replay_of", { id: shortId(d.replay_of) })) : null]],
    ["hooks.col_status", (d) => badge("webhook_status", d.status, label("webhook_status.", d.status))],
    ["hooks.col_attempts", (d) => d.attempts, "num"],
    ["hooks.col_last", lastResult],
    ["hooks.col_next", (d) => (d.next_attempt_at ? when(d.next_attempt_at) : "—"), "when"],
  ];
  if (mayReplay()) {
    columns.push(["hooks.col_action", (d) => el("button", { type: "button", class: "secondary replay", "data-delivery": d.delivery_id,
      "aria-label": t("hooks.replay_label", { id: shortId(d.delivery_id) }), onclick: () => replay(d) }, t("hooks.replay"))]);
  }
  document.getElementById("hooks").replaceChildren(deliveries.length ? tableBox(t("hooks.title"), el("table", { id: "hooks-table" },
    el("thead", {}, el("tr", {}, columns.map(([key, , cls]) => el("th", { class: cls === "num" ? "num" : null }, t(key))))),
    el("tbody", {}, deliveries.map((d) => el("tr", { "data-delivery": d.delivery_id, "data-status": d.status, "data-replay-of": d.replay_of },
      columns.map(([, cell, cls]) => el("td", { class: cls }, cell(d)))))))) : null);
}

function renderResult() {
  const box = document.getElementById("hooks-result");
  if (!result) return;
  box.hidden = false;
  box.className = `notice ${result.ok ? "ok" : "error"}`;
  box.setAttribute("role", result.ok ? "status" : "alert");
  box.textContent = result.ok
    ? t("hooks.replayed", { id: shortId(result.delivery.delivery_id), status: label("webhook_status.", result.delivery.status) })
    : t("hooks.reason_short");
}

async function replay(d) {
  const reason = el("textarea", { id: "replay-reason", maxlength: "256" });
  const ok = await confirmDialog({
    title: t("hooks.replay_title"),
    facts: [[t("hooks.col_tenant"), d.tenant_id], [t("hooks.col_kind"), label("webhook_kind.", d.kind)],
      [t("hooks.col_event"), d.event_id], [t("hooks.col_status"), label("webhook_status.", d.status)]],
    text: [t("hooks.replay_text"), el("label", { for: "replay-reason" }, t("hooks.reason")), reason],
    confirm: t("hooks.replay"),
  });
  if (!ok) return;
  const text = reason.value.trim();
  const box = document.getElementById("hooks-result");
  if (text.length < 3) {
    result = { ok: false };
    return renderResult();
  }
  try {
    const again = await call("POST", `/v1/operator/webhooks/deliveries/${d.delivery_id}/replay`, { reason: text });
    result = { ok: true, delivery: again };
    renderResult();
    await load();
  } catch (error) {
    result = null;
    box.removeAttribute("role");
    fail(box, error, REPLAYERS);
  }
}

async function load(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ limit: document.getElementById("hooks-limit").value });
  const tenant = document.getElementById("hooks-tenant").value.trim();
  const status = document.getElementById("hooks-status").value;
  if (tenant) params.set("tenant_id", tenant);
  if (status) params.set("status", status);
  const box = document.getElementById("hooks-error");
  try {
    const seq = ++loads;
    const found = await call("GET", "/v1/operator/webhooks/deliveries?" + params);
    if (seq !== loads) return; // a newer search was asked for while this one was on its way
    deliveries = found;
    box.hidden = true;
    render();
  } catch (error) {
    fail(box, error, ["risk_analyst", "compliance_officer", "admin"]);
  }
}

start("/console/webhooks", {
  ready: async () => {
    document.getElementById("hooks-form").addEventListener("submit", load);
    await load();
  },
  onLanguage: render,
});
