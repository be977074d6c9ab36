// The audit chain: run the same verification as `facetrust audit verify` and show the result:
// intact with the number of records, or the first broken record and why.
import { addStrings, el, t, when } from "../ft.js";
import { call, fail, start } from "./common.js";

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
});

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

start("/console/audit", {
  ready: async () => { document.getElementById("verify").addEventListener("click", verify); },
  onLanguage: render,
});
