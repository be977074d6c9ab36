// One case (its id in the URL fragment: /console/case#<id>): what triggered it (the events, the
// decision's feature values and rule hits), the account's decision history, the notes; and the
// work: assign, note, close, freeze or unfreeze the account with a reason. A role the API refuses
// is shown as the API's refusal, with the roles the action needs.
import { addStrings, el, lang, t, when, yuan } from "../ft.js";
import { actionName, badge, call, fail, field, shortId, start } from "./common.js";
import {
  dataLines, described, featureName, formatValue, kindName, outcomeName, reasonName, typologyList, typologyName,
} from "./labels.js";

addStrings({
  "case.back": { zh: "← 返回案件队列", en: "← Back to the case queue" },
  "case.title": { zh: "案件 {id}", en: "Case {id}" },
  "case.no_id": { zh: "地址中没有案件 ID。请从案件队列打开案件。", en: "There is no case id in the address. Open a case from the queue." },
  "case.typologies": { zh: "风险类型", en: "Typologies" },
  "case.opened": { zh: "开案时间", en: "Opened" },
  "case.assignee": { zh: "处理人", en: "Assignee" },
  "case.outcome": { zh: "结论", en: "Outcome" },
  "case.closed_at": { zh: "结案时间", en: "Closed" },
  "case.manual": { zh: "人工冻结", en: "manual freeze" },
  "case.account": { zh: "账户", en: "Account" },
  "case.account_id": { zh: "账户 ID", en: "Account id" },
  "case.user": { zh: "平台用户 ID", en: "Platform user id" },
  "case.mobile": { zh: "手机号", en: "Mobile" },
  "case.name": { zh: "姓名", en: "Name" },
  "case.account_status": { zh: "账户状态", en: "Account status" },
  "case.real_name": { zh: "实名认证", en: "Real name" },
  "case.face_pay": { zh: "刷脸支付", en: "Face pay" },
  "case.on": { zh: "已开通", en: "On" },
  "case.off": { zh: "未开通", en: "Off" },
  "real_name.verified": { zh: "已认证", en: "Verified" },
  "real_name.failed": { zh: "未通过", en: "Failed" },
  "real_name.none": { zh: "未认证", en: "Not verified" },
  "case.reason": { zh: "冻结或解冻的理由（必填，会记录在审计日志中）", en: "Reason for freezing or unfreezing (required, written to the audit log)" },
  "case.freeze": { zh: "冻结账户", en: "Freeze account" },
  "case.unfreeze": { zh: "解冻账户", en: "Unfreeze account" },
  "case.freeze_roles": { zh: "冻结：风控分析师或管理员；解冻：合规专员或管理员（双人原则）。",
    en: "Freeze: risk analyst or admin. Unfreeze: compliance officer or admin (a second pair of eyes)." },
  "case.frozen_done": { zh: "账户已冻结。冻结期间不能进行任何资金操作。", en: "The account is frozen. It moves no money until it is unfrozen." },
  "case.unfrozen_done": { zh: "账户已解冻。", en: "The account is active again." },
  "case.reason_missing": { zh: "请填写理由（至少 3 个字）。", en: "Enter a reason (at least 3 characters)." },
  "case.work": { zh: "处理", en: "Work the case" },
  "case.assign_me": { zh: "分配给我", en: "Assign to me" },
  "case.close_outcome": { zh: "结案结论", en: "Outcome" },
  "case.close_note": { zh: "结案说明", en: "Closing note" },
  "case.close": { zh: "结案", en: "Close case" },
  "case.choose": { zh: "请选择…", en: "Choose…" },
  "case.assigned_done": { zh: "已分配给 {who}。", en: "Assigned to {who}." },
  "case.closed_done": { zh: "案件已结案。", en: "The case is closed." },
  "case.decision": { zh: "触发决策", en: "Triggering decision" },
  "case.decision_other": { zh: "决策详情", en: "Decision" },
  "case.no_decision": { zh: "这个案件不是由风控决策触发的（人工冻结）。", en: "No risk decision opened this case (a manual freeze)." },
  "case.event": { zh: "事件", en: "Event" },
  "case.score": { zh: "分数", en: "Score" },
  "case.rule_set": { zh: "规则版本", en: "Rule set" },
  "case.reasons": { zh: "原因", en: "Reasons" },
  "case.rule_hits": { zh: "命中的规则", en: "Rule hits" },
  "case.rule": { zh: "规则", en: "Rule" },
  "case.description": { zh: "说明", en: "Description" },
  "case.values": { zh: "特征取值", en: "Feature values" },
  "case.no_rules": { zh: "没有规则命中。", en: "No rule fired." },
  "case.features": { zh: "全部特征（{count} 个）", en: "All features ({count})" },
  "case.feature": { zh: "特征", en: "Feature" },
  "case.value": { zh: "取值", en: "Value" },
  "case.is": { zh: "：", en: ": " },
  "case.history": { zh: "该账户的决策历史", en: "The account's decision history" },
  "case.time": { zh: "时间", en: "Time" },
  "case.kind": { zh: "事件类型", en: "Event" },
  "case.action": { zh: "决策", en: "Decision" },
  "case.details": { zh: "详情", en: "Details" },
  "case.events": { zh: "最近事件", en: "Latest events" },
  "case.outcome_col": { zh: "结果", en: "Outcome" },
  "case.amount": { zh: "金额", en: "Amount" },
  "case.device": { zh: "设备", en: "Device" },
  "case.ip": { zh: "IP", en: "IP" },
  "case.merchant": { zh: "商户", en: "Merchant" },
  "case.trigger": { zh: "触发", en: "trigger" },
  "case.data": { zh: "附加信息", en: "Details" },
  "case.notes": { zh: "备注", en: "Notes" },
  "case.add_note": { zh: "添加备注", en: "Add note" },
  "case.note_placeholder": { zh: "例如：已电话联系客户", en: "e.g. called the customer" },
  "case.note_opened": { zh: "风控决策 {id} 触发：{typologies}", en: "Decision {id}: {typologies}" },
  "case.note_assigned": { zh: "已分配给 {who}", en: "Assigned to {who}" },
  "case.note_closed": { zh: "结案，结论：{outcome}。{note}", en: "Closed as {outcome}: {note}" },
  "case.note_identity_change": { zh: "一次实名认证使用了与本账户已绑定身份不同的身份证号。",
    en: "A real-name authentication named another ID number than the one this account is bound to." },
});

// "#<id>", or "#case=<id>" beside a "token=" handed over in the same fragment.
const fragment = new URLSearchParams(location.hash.slice(1));
const caseId = fragment.get("case") || (location.hash.includes("=") ? "" : decodeURIComponent(location.hash.slice(1)));
const state = { case: null, account: null, decisions: [], events: [], detail: null, selected: null };

const typologies = (list) => (list.length ? typologyList(list) : t("case.manual"));
const amount = (fen) => (fen === null || fen === undefined ? "—" : "¥" + yuan(fen));

function notice(box, key, vars, kind = "ok") {
  box.replaceChildren(el("strong", {}, t(key, vars)));
  box.className = "notice " + kind;
  box.removeAttribute("role");
  box.hidden = false;
}

// --- rendering ---------------------------------------------------------------------------------

function caseCard() {
  const c = state.case;
  return el("section", { class: "card", id: "case-card" },
    el("div", { class: "row head" }, el("h1", {}, t("case.title", { id: shortId(c.case_id) })),
      el("span", { id: "case-status" }, badge("case.status", c.status))),
    el("dl", { class: "facts" },
      field("case.typologies", typologies(c.typologies)),
      field("case.opened", when(c.opened_at)),
      field("case.assignee", el("span", { id: "case-assignee" }, c.assignee || "—")),
      field("case.outcome", c.outcome ? t("outcome." + c.outcome) : "—"),
      c.closed_at ? field("case.closed_at", when(c.closed_at)) : null));
}

function accountCard() {
  const a = state.account;
  if (!a) return null;
  const result = el("div", { id: "account-result", hidden: true });
  const reason = el("textarea", { id: "account-reason" });
  const act = async (what, roles) => {
    const text = reason.value.trim();
    if (text.length < 3) return notice(result, "case.reason_missing", {}, "error");
    try {
      await call("POST", `/v1/operator/accounts/${a.account_id}/${what}`, { reason: text });
      await reload();
    } catch (error) {
      return fail(document.getElementById("account-result"), error, roles);
    }
    notice(document.getElementById("account-result"), what === "freeze" ? "case.frozen_done" : "case.unfrozen_done");
  };
  return el("section", { class: "card", id: "account-card" },
    el("h2", {}, t("case.account")),
    el("dl", { class: "facts" },
      field("case.account_id", el("code", {}, a.account_id)),
      field("case.user", a.platform_user_id),
      field("case.mobile", a.mobile_masked),
      field("case.name", a.name_masked),
      field("case.account_status", el("span", { id: "account-status" }, badge("status", a.status))),
      field("case.real_name", t("real_name." + a.real_name)),
      field("case.face_pay", t(a.face_pay ? "case.on" : "case.off"))),
    el("label", { for: "account-reason" }, t("case.reason")), reason,
    el("div", { class: "row buttons" },
      el("button", { id: "freeze", class: "danger", type: "button", onclick: () => act("freeze", ["risk_analyst", "admin"]) },
        t("case.freeze")),
      el("button", { id: "unfreeze", class: "secondary", type: "button",
        onclick: () => act("unfreeze", ["compliance_officer", "admin"]) }, t("case.unfreeze"))),
    el("p", { class: "muted small" }, t("case.freeze_roles")),
    result);
}

function workCard() {
  const c = state.case;
  const result = el("div", { id: "work-result", hidden: true });
  const outcome = el("select", { id: "outcome" }, el("option", { value: "" }, t("case.choose")),
    ["fraud_confirmed", "false_positive", "inconclusive"].map((o) => el("option", { value: o }, t("outcome." + o))));
  const note = el("textarea", { id: "close-note" });
  const attempt = async (path, body, done) => {
    try {
      const updated = await call("POST", `/v1/operator/risk/cases/${c.case_id}/${path}`, body);
      await reload();
      notice(document.getElementById("work-result"), done, { who: updated.assignee });
    } catch (error) {
      fail(document.getElementById("work-result"), error, ["risk_analyst", "admin"]);
    }
  };
  return el("section", { class: "card", id: "work-card" },
    el("h2", {}, t("case.work")),
    el("button", { id: "assign", type: "button", class: "secondary", disabled: c.status === "closed",
      onclick: () => attempt("assign", {}, "case.assigned_done") }, t("case.assign_me")),
    el("label", { for: "outcome" }, t("case.close_outcome")), outcome,
    el("label", { for: "close-note" }, t("case.close_note")), note,
    el("button", { id: "close-case", type: "button", disabled: c.status === "closed",
      onclick: () => attempt("close", { outcome: outcome.value, note: note.value.trim() }, "case.closed_done") },
    t("case.close")),
    result);
}

function decisionCard() {
  const d = state.detail;
  const isTrigger = d && d.decision_id === state.case.decision_id;
  const title = t(d && !isTrigger ? "case.decision_other" : "case.decision");
  if (!d) return el("section", { class: "card", id: "decision-card" }, el("h2", {}, title), el("p", { class: "muted" }, t("case.no_decision")));
  const e = d.event;
  const features = Object.entries(d.features).sort(([a], [b]) => a.localeCompare(b));
  return el("section", { class: "card", id: "decision-card", "data-decision": d.decision_id },
    el("h2", {}, title),
    el("dl", { class: "facts" },
      field("case.action", el("span", { id: "decision-action" }, badge("action", d.decision, actionName(d.decision)))),
      field("case.score", d.score),
      field("case.event", `${kindName(e.kind)} · ${when(e.at)} · ${amount(e.amount_fen)}${e.device_id ? " · " + e.device_id : ""}`),
      field("case.typologies", el("ul", { class: "plain", id: "decision-typologies" }, d.typologies.map((ty) =>
        el("li", { "data-typology": ty.id }, el("strong", { title: ty.id }, typologyName(ty.id)), " → ", actionName(ty.action),
          el("span", { class: "muted small" }, " " + described(ty)))))),
      field("case.reasons", el("span", { id: "decision-reasons", title: d.reasons.join(", ") },
        d.reasons.map(reasonName).join(lang === "zh" ? "、" : ", ") || "—")),
      field("case.rule_set", d.rule_set_version)),
    el("h3", {}, t("case.rule_hits")),
    d.rules.length ? el("div", { class: "table-wrap" }, el("table", { id: "rule-hits" },
      el("thead", {}, el("tr", {}, ["case.rule", "case.description", "case.score", "case.values"].map((k) => el("th", {}, t(k))))),
      el("tbody", {}, d.rules.map((r) => el("tr", { "data-rule": r.id },
        el("td", {}, el("code", {}, r.id)), el("td", {}, described(r)), el("td", { class: "num" }, r.score),
        el("td", {}, Object.entries(r.features).map(([name, value]) =>
          el("div", { class: "small feature-value", "data-feature": name, title: name },
            `${featureName(name)}${t("case.is")}${formatValue(name, value)}`))))))))
      : el("p", { class: "muted" }, t("case.no_rules")),
    el("details", { id: "features" }, el("summary", {}, t("case.features", { count: features.length })),
      el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, t("case.feature")), el("th", {}, t("case.value")))),
        el("tbody", {}, features.map(([name, value]) => el("tr", { "data-feature": name },
          el("td", { class: "small", title: name }, featureName(name)),
          el("td", { class: "small num" }, formatValue(name, value)))))))));
}

function historyCard() {
  return el("section", { class: "card", id: "history-card" },
    el("h2", {}, t("case.history")),
    state.decisions.length ? el("div", { class: "table-wrap" }, el("table", { id: "decisions-table" },
      el("thead", {}, el("tr", {}, ["case.time", "case.kind", "case.action", "case.score", "case.typologies", "case.details"]
        .map((k) => el("th", {}, t(k))))),
      el("tbody", {}, state.decisions.slice().reverse().map((d) => el("tr", {
        "data-decision": d.decision_id, class: d.decision_id === state.case.decision_id ? "trigger" : null },
      el("td", { class: "when" }, when(d.at)), el("td", {}, kindName(d.event_kind)),
      el("td", {}, badge("action", d.decision, actionName(d.decision))), el("td", { class: "num" }, d.score),
      el("td", {}, typologyList(d.typologies) || "—"),
      el("td", {}, el("button", { class: "link", type: "button", onclick: () => select(d.decision_id) }, t("case.details"))))))))
      : el("p", { class: "empty" }, t("common.none")));
}

function eventsCard() {
  return el("section", { class: "card", id: "events-card" },
    el("h2", {}, t("case.events")),
    state.events.length ? el("div", { class: "table-wrap" }, el("table", { id: "events-table" },
      el("thead", {}, el("tr", {}, ["case.time", "case.kind", "case.outcome_col", "case.amount", "case.device", "case.ip",
        "case.merchant", "case.action", "case.data"].map((k) => el("th", {}, t(k))))),
      el("tbody", {}, state.events.map((e) => el("tr", { "data-seq": e.seq, class: e.trigger ? "trigger" : null },
        el("td", { class: "when" }, when(e.at)),
        el("td", { "data-kind": e.kind }, kindName(e.kind), e.trigger ? el("span", { class: "status review tag" }, t("case.trigger")) : null),
        el("td", { "data-outcome": e.outcome || "" }, outcomeName(e.outcome)), el("td", { class: "num" }, amount(e.amount_fen)),
        el("td", {}, e.device_id || "—"),
        el("td", {}, e.ip || "—"), el("td", {}, e.merchant_id ? el("code", {}, shortId(e.merchant_id)) : "—"),
        el("td", {}, e.decision ? badge("action", e.decision, actionName(e.decision)) : "—"),
        el("td", { class: "small event-data" }, dataLines(e.data).map((line) => el("div", {}, line)), Object.keys(e.data).length ? null : "—"))))))
      : el("p", { class: "empty" }, t("common.none")));
}

// The notes the service writes itself (a case opened by a decision, assigned, closed) are stored
// in English; they are shown in the page's language, the stored text kept as the tooltip. Notes
// operators write are shown as written.
const IDENTITY_CHANGE_NOTE = "a real-name authentication named another ID number than the one this account is bound to";
function noteText(n) {
  let m;
  if (n.author === "risk-engine" && (m = /^decision (\w+): (.*)$/.exec(n.text))) {
    return t("case.note_opened", { id: shortId(m[1]), typologies: typologyList(m[2].split(", ").filter(Boolean)) });
  }
  if (n.author === "risk-engine" && n.text === IDENTITY_CHANGE_NOTE) return t("case.note_identity_change");
  if ((m = /^assigned to (\S+)$/.exec(n.text))) return t("case.note_assigned", { who: m[1] });
  if ((m = /^closed as (fraud_confirmed|false_positive|inconclusive): ([\s\S]*)$/.exec(n.text))) {
    return t("case.note_closed", { outcome: t("outcome." + m[1]), note: m[2] });
  }
  return n.text;
}

function notesCard() {
  const result = el("div", { id: "note-result", hidden: true });
  const text = el("textarea", { id: "note-text", placeholder: t("case.note_placeholder") });
  const add = async () => {
    try {
      await call("POST", `/v1/operator/risk/cases/${state.case.case_id}/notes`, { text: text.value.trim() });
      await reload();
    } catch (error) {
      fail(document.getElementById("note-result"), error);
    }
  };
  return el("section", { class: "card", id: "notes-card" },
    el("h2", {}, t("case.notes")),
    el("ul", { class: "notes", id: "notes" }, state.case.notes.map((n) => el("li", {},
      el("div", { class: "muted small" }, `${n.author} · ${when(n.at)}`), el("div", { class: "note-text", title: n.text }, noteText(n))))),
    el("label", { for: "note-text" }, t("case.add_note")), text,
    el("button", { id: "add-note", type: "button", class: "secondary", onclick: add }, t("case.add_note")),
    result);
}

function render() {
  if (!state.case) return;
  document.getElementById("case").replaceChildren(
    caseCard(),
    el("div", { class: "case-grid" }, accountCard(), workCard()),
    decisionCard(), historyCard(), eventsCard(), notesCard());
}

// --- loading -----------------------------------------------------------------------------------

async function select(decisionId) {
  try {
    state.detail = await call("GET", `/v1/operator/risk/decisions/${decisionId}`);
    state.selected = decisionId;
    render();
    document.getElementById("decision-card").scrollIntoView({ block: "start" });
  } catch (error) {
    fail(document.getElementById("case-error"), error);
  }
}

async function reload() {
  const c = await call("GET", `/v1/operator/risk/cases/${encodeURIComponent(caseId)}`);
  const [account, decisions, events] = await Promise.all([
    c.account_id ? call("GET", `/v1/operator/accounts/${c.account_id}`) : null,
    c.account_id ? call("GET", `/v1/operator/accounts/${c.account_id}/risk-decisions`) : [],
    call("GET", `/v1/operator/risk/cases/${c.case_id}/events`),
  ]);
  const chosen = state.selected || c.decision_id;
  const detail = chosen ? await call("GET", `/v1/operator/risk/decisions/${chosen}`) : null;
  Object.assign(state, { case: c, account, decisions, events, detail });
  render();
}

start("/console/cases", {
  ready: async () => {
    const box = document.getElementById("case-error");
    if (!caseId) {
      box.replaceChildren(t("case.no_id"));
      box.className = "notice error";
      box.hidden = false;
      return;
    }
    try {
      await reload();
      box.hidden = true;
    } catch (error) {
      fail(box, error);
    }
  },
  onLanguage: render,
});
