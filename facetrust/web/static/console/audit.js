// The audit log: run the same verification as `facetrust audit verify` and show the result
// (intact with the number of records, or the first broken record and why); and browse the log,
// filtered by kind of action, actor, subject and time, a page at a time (GET /v1/operator/audit).
import { addStrings, el, lang, t, when } from "../ft.js";
import { call, fail, start } from "./common.js";
import { auditActionName, dataName, formatValue } from "./labels.js";

addStrings({
  "audit.title": { zh: "审计日志校验", en: "Audit log verification" },
  "audit.explain": { zh: "审计日志的每条记录都包含前一条记录的哈希值。校验会逐条重新计算，找出被修改、删除或调换顺序的记录（与命令 facetrust audit verify 相同）。",
    en: "Each audit record carries the hash of the one before it. Verification recomputes the whole chain and finds a record that was edited, removed or reordered (the same check as `facetrust audit verify`)." },
  "audit.verify": { zh: "校验审计链", en: "Verify the audit chain" },
  "audit.ok": { zh: "审计链完整：已校验 {count} 条记录。", en: "The audit chain is intact: {count} records verified." },
  "audit.bad": { zh: "审计链在第 {seq} 条记录处断裂。", en: "The audit chain is broken at record {seq}." },
  "audit.problem.altered": { zh: "第 {seq} 条记录的内容被修改过（与其哈希值不符）。", en: "Record {seq} was altered: its content does not match its hash." },
  "audit.problem.missing": { zh: "第 {seq} 条记录缺失（被删除）。", en: "Record {seq} is missing (deleted)." },
  "audit.problem.out_of_order": { zh: "第 {seq} 条记录没有接在前一条之后（顺序被调换或记录被替换）。", en: "Record {seq} does not follow the one before it (reordered or replaced)." },
  "audit.problem.unknown": { zh: "第 {seq} 条记录无法校验。", en: "Record {seq} could not be verified." },
  "audit.todo": { zh: "请立即通知安全负责人，并保留数据库现状以便调查。校验到断点为止共 {checked} 条，日志共 {total} 条。",
    en: "Tell the security lead now and keep the database as it is for the investigation. {checked} of {total} records were checked up to the break." },
  "audit.checked_at": { zh: "校验时间：{time}", en: "Checked at {time}" },
  "audit.server_says": { zh: "服务端说明：{problem}", en: "The service says: {problem}" },
  "log.title": { zh: "浏览审计日志", en: "Browse the audit log" },
  "log.kind": { zh: "操作类型", en: "Action" },
  "log.kind_hint": { zh: "例如 account.freeze 或 risk.case", en: "e.g. account.freeze or risk.case" },
  "log.actor": { zh: "操作人", en: "Actor" },
  "log.actor_hint": { zh: "例如 operator:alice", en: "e.g. operator:alice" },
  "log.subject": { zh: "对象", en: "Subject" },
  "log.subject_hint": { zh: "账户 ID 或 account:ID", en: "an account id or account:ID" },
  "log.since": { zh: "开始时间（含）", en: "From (inclusive)" },
  "log.until": { zh: "结束时间（不含）", en: "Until (exclusive)" },
  "log.search": { zh: "查询", en: "Search" },
  "log.clear": { zh: "清除条件", en: "Clear" },
  "log.prev": { zh: "← 上一页（较新）", en: "← Previous (newer)" },
  "log.next": { zh: "下一页（较早）→", en: "Next (older) →" },
  "log.page": { zh: "第 {page} 页，本页 {count} 条记录，按时间从新到旧排列。", en: "Page {page}: {count} records, newest first." },
  "log.last": { zh: "已是最后一页。", en: "This is the last page." },
  "log.none": { zh: "没有符合条件的记录。", en: "No record matches." },
  "log.col_seq": { zh: "序号", en: "No." },
  "log.col_time": { zh: "时间", en: "Time" },
  "log.col_actor": { zh: "操作人", en: "Actor" },
  "log.col_action": { zh: "操作", en: "Action" },
  "log.col_subject": { zh: "对象", en: "Subject" },
  "log.col_purpose": { zh: "用途", en: "Purpose" },
  "log.col_details": { zh: "详情", en: "Details" },
});

// Suggestions for the action filter: the families of actions the service records.
const KIND_SUGGESTIONS = ["account", "account.freeze", "account.unfreeze", "account.reveal", "consent", "credit",
  "face_pay", "liveness.decide", "operator.token", "payment", "real_name", "risk.case", "template", "wallet.top_up"];
const PAGE_SIZE = 20;
const log = { filters: {}, cursors: [null], index: 0, page: null }; // cursors[i]: where page i starts

let report = null;

function render() {
  if (!report) return;
  const box = document.getElementById("audit-result");
  box.hidden = false;
  box.removeAttribute("role");
  box.dataset.ok = String(report.ok);
  if (report.ok) {
    box.className = "notice ok";
    box.replaceChildren(el("strong", { id: "audit-summary" }, t("audit.ok", { count: report.records_total })),
      el("p", { class: "muted small" }, t("audit.checked_at", { time: when(report.checked_at) })));
    return;
  }
  box.className = "notice error";
  box.setAttribute("role", "alert");
  box.replaceChildren(
    el("strong", { class: "what", id: "audit-summary" }, t("audit.bad", { seq: report.at_seq })),
    el("p", { id: "audit-problem" }, t("audit.problem." + (report.problem_code || "unknown"), { seq: report.at_seq })),
    el("p", { class: "todo" }, t("audit.todo", { checked: report.records_checked, total: report.records_total })),
    el("p", { class: "code" }, t("audit.server_says", { problem: report.problem })),
    el("p", { class: "muted small" }, t("audit.checked_at", { time: when(report.checked_at) })));
}

async function verify() {
  const box = document.getElementById("audit-result");
  const button = document.getElementById("verify");
  button.disabled = true;
  try {
    report = await call("GET", "/v1/operator/audit/verify");
    render();
  } catch (error) {
    report = null;
    fail(box, error, ["compliance_officer", "admin"]);
  } finally {
    button.disabled = false;
  }
}

// The filter form's values as query parameters; the times are the browser's local time, sent as
// instants (ISO with the zone) so the server compares them with the UTC it stores.
function readFilters() {
  const out = {};
  for (const name of ["kind", "actor", "subject"]) {
    const value = document.getElementById("log-" + name).value.trim();
    if (value) out[name] = value;
  }
  for (const name of ["since", "until"]) {
    const value = document.getElementById("log-" + name).value;
    if (value) out[name] = new Date(value).toISOString();
  }
  return out;
}

// An audit record's time to the second (records a second apart must not look the same).
function recordTime(iso) {
  return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "medium" });
}

function detailLines(details) {
  return Object.entries(details).map(([key, value]) => el("div", { "data-key": key }, `${dataName(key)} ${formatValue(key, value)}`));
}

function renderLog() {
  const box = document.getElementById("log");
  const page = log.page;
  if (!page) return;
  const status = document.getElementById("log-status");
  status.dataset.page = String(log.index + 1);
  status.textContent = page.records.length
    ? t("log.page", { page: log.index + 1, count: page.records.length }) + (page.next_cursor ? "" : " " + t("log.last"))
    : t("log.none");
  box.replaceChildren(page.records.length ? el("table", { id: "log-table" },
    el("thead", {}, el("tr", {}, ["log.col_seq", "log.col_time", "log.col_actor", "log.col_action", "log.col_subject",
      "log.col_purpose", "log.col_details"].map((k) => el("th", {}, t(k))))),
    el("tbody", {}, page.records.map((r) => el("tr", { "data-seq": r.seq, "data-action": r.action, "data-subject": r.subject },
      el("td", { class: "num" }, r.seq), el("td", { class: "when", "data-at": r.at }, recordTime(r.at)),
      el("td", { class: "mono small" }, r.actor), el("td", { class: "audit-action" }, auditActionName(r.action), auditActionName(r.action) ? el("br") : null,
        el("code", { class: "muted" }, r.action)),
      el("td", { class: "mono small" }, r.subject), el("td", { class: "small" }, r.purpose ? formatValue("purpose", r.purpose) : "—"),
      el("td", { class: "small event-data" }, detailLines(r.details)))))) : null);
  document.getElementById("log-prev").disabled = log.index === 0;
  document.getElementById("log-next").disabled = !page.next_cursor;
}

// Page i of the current filters: its starting cursor is known (page 0 starts at the newest record,
// each next page where the one before ended), so going back re-reads exactly the page it was.
async function loadLog(index) {
  const params = new URLSearchParams({ ...log.filters, limit: String(PAGE_SIZE) });
  if (log.cursors[index]) params.set("cursor", log.cursors[index]);
  const box = document.getElementById("log-error");
  try {
    const page = await call("GET", "/v1/operator/audit?" + params);
    Object.assign(log, { index, page });
    log.cursors[index + 1] = page.next_cursor;
    box.hidden = true;
    renderLog();
  } catch (error) {
    fail(box, error, ["compliance_officer", "admin"]);
  }
}

function search(event) {
  if (event) event.preventDefault();
  Object.assign(log, { filters: readFilters(), cursors: [null], index: 0 });
  return loadLog(0);
}

start("/console/audit", {
  ready: async () => {
    document.getElementById("verify").addEventListener("click", verify);
    document.getElementById("log-kinds").replaceChildren(...KIND_SUGGESTIONS.map((k) => el("option", { value: k })));
    document.getElementById("log-form").addEventListener("submit", search);
    document.getElementById("log-clear").addEventListener("click", () => {
      document.getElementById("log-form").reset();
      search();
    });
    document.getElementById("log-prev").addEventListener("click", () => loadLog(log.index - 1));
    document.getElementById("log-next").addEventListener("click", () => loadLog(log.index + 1));
    await search();
  },
  onLanguage: () => { render(); renderLog(); },
});
