// The case queue: cases the risk engine (or an operator's freeze) opened, filtered by status and
// assignee, each linking to its page.
import { addStrings, el, t, when } from "../ft.js";
import { badge, call, fail, me, shortId, start } from "./common.js";
import { typologyList } from "./labels.js";

addStrings({
  "cases.title": { zh: "案件队列", en: "Case queue" },
  "cases.status": { zh: "状态", en: "Status" },
  "cases.active": { zh: "未结案（待处理与处理中）", en: "Not closed (open and assigned)" },
  "cases.all": { zh: "全部", en: "All" },
  "cases.assignee": { zh: "处理人", en: "Assignee" },
  "cases.anyone": { zh: "任何人", en: "Anyone" },
  "cases.mine": { zh: "分配给我", en: "Assigned to me" },
  "cases.unassigned": { zh: "未分配", en: "Unassigned" },
  "cases.count": { zh: "共 {count} 个案件", en: "{count} cases" },
  "cases.col_opened": { zh: "开案时间", en: "Opened" },
  "cases.col_typologies": { zh: "风险类型", en: "Typologies" },
  "cases.col_account": { zh: "账户", en: "Account" },
  "cases.col_status": { zh: "状态", en: "Status" },
  "cases.col_assignee": { zh: "处理人", en: "Assignee" },
  "cases.col_outcome": { zh: "结论", en: "Outcome" },
  "cases.open": { zh: "查看", en: "Open" },
  "cases.manual": { zh: "人工冻结", en: "manual freeze" },
});

let cases = null;

function filtered() {
  const status = document.getElementById("status").value;
  const assignee = document.getElementById("assignee").value;
  const mine = me ? `operator:${me.name}` : null;
  return cases.filter((c) => (status === "all" || (status === "active" ? c.status !== "closed" : c.status === status))
    && (assignee === "anyone" || (assignee === "me" ? c.assignee === mine : !c.assignee)));
}

function render() {
  if (!cases) return;
  const rows = filtered();
  document.getElementById("cases-count").textContent = t("cases.count", { count: rows.length });
  const columns = [
    ["cases.col_opened", (c) => when(c.opened_at)],
    ["cases.col_typologies", (c) => c.typologies.length ? typologyList(c.typologies) : t("cases.manual")],
    ["cases.col_account", (c) => el("code", {}, shortId(c.account_id || c.merchant_id))],
    ["cases.col_status", (c) => badge("case.status", c.status)],
    ["cases.col_assignee", (c) => c.assignee || "—"],
    ["cases.col_outcome", (c) => (c.outcome ? t("outcome." + c.outcome) : "—")],
    ["cases.open", (c) => el("a", { href: `/console/case#${c.case_id}`, class: "case-link", "data-case": c.case_id }, t("cases.open"))],
  ];
  const body = rows.map((c) => el("tr", { "data-case": c.case_id }, columns.map(([, cell]) => el("td", {}, cell(c)))));
  document.getElementById("cases").replaceChildren(rows.length
    ? el("table", { id: "cases-table" }, el("thead", {}, el("tr", {}, columns.map(([key]) => el("th", {}, t(key))))),
      el("tbody", {}, body))
    : el("p", { class: "empty" }, t("common.none")));
}

async function load() {
  const box = document.getElementById("cases-error");
  try {
    cases = await call("GET", "/v1/operator/risk/cases");
    box.hidden = true;
    render();
  } catch (error) {
    fail(box, error);
  }
}

start("/console/cases", {
  ready: async () => {
    for (const id of ["status", "assignee"]) document.getElementById(id).addEventListener("change", render);
    await load();
  },
  onLanguage: render,
});
