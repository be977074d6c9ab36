// Account lookup: exact search by account id, platform user id, mobile or ID number; personal data
// masked. Revealing it asks for a reason first and says that the access is audited.
import { addStrings, el, t, when, yuan } from "../ft.js";
import { badge, call, fail, field, start } from "./common.js";

addStrings({
  "accounts.title": { zh: "账户查询", en: "Account lookup" },
  "accounts.query": { zh: "账户 ID、平台用户 ID、手机号或身份证号（精确匹配）", en: "Account id, platform user id, mobile or ID number (exact)" },
  "accounts.placeholder": { zh: "例如 13812345678", en: "e.g. 13812345678" },
  "accounts.search": { zh: "查询", en: "Search" },
  "accounts.masked_note": { zh: "个人信息默认脱敏显示。查看完整信息需要合规专员或管理员角色并填写理由，每次查看都会记入审计日志。",
    en: "Personal data is masked. Seeing it in full needs the compliance officer or admin role and a reason; every access is written to the audit log." },
  "accounts.none": { zh: "没有找到匹配的账户。", en: "No account matches." },
  "accounts.found": { zh: "找到 {count} 个账户", en: "{count} accounts found" },
  "accounts.account_id": { zh: "账户 ID", en: "Account id" },
  "accounts.tenant": { zh: "平台", en: "Platform" },
  "accounts.user": { zh: "平台用户 ID", en: "Platform user id" },
  "accounts.mobile": { zh: "手机号", en: "Mobile" },
  "accounts.name": { zh: "姓名", en: "Name" },
  "accounts.id_number": { zh: "身份证号", en: "ID number" },
  "accounts.status": { zh: "账户状态", en: "Status" },
  "accounts.real_name": { zh: "实名认证", en: "Real name" },
  "accounts.face_pay": { zh: "刷脸支付", en: "Face pay" },
  "accounts.credit": { zh: "授信", en: "Credit" },
  "accounts.credit_line": { zh: "额度 ¥{limit}，已用 ¥{used}，可用 ¥{available}，在还 {plans} 笔",
    en: "limit ¥{limit}, used ¥{used}, available ¥{available}, {plans} active plans" },
  "accounts.no_credit": { zh: "无额度", en: "No credit line" },
  "accounts.opened": { zh: "开户时间", en: "Opened" },
  "accounts.on": { zh: "已开通", en: "On" },
  "accounts.off": { zh: "未开通", en: "Off" },
  "accounts.verified": { zh: "已认证（{method}，{date}）", en: "Verified ({method}, {date})" },
  "real_name.failed": { zh: "认证未通过", en: "Attempted, not passed" },
  "real_name.none": { zh: "未认证", en: "Not verified" },
  "method.face": { zh: "人脸", en: "face" },
  "method.bank_card": { zh: "银行卡", en: "bank card" },
  "accounts.reveal": { zh: "查看完整信息", en: "Reveal personal data" },
  "accounts.reveal_reason": { zh: "查看理由（必填，至少 5 个字）", en: "Why do you need to see it? (required, 5 characters or more)" },
  "accounts.reveal_warning": { zh: "此次查看将记入审计日志：您的姓名、理由和查看的字段。", en: "This access is audited: your name, the reason and the fields shown are written to the audit log." },
  "accounts.reveal_confirm": { zh: "确认查看（将被审计）", en: "Reveal (audited)" },
  "accounts.reveal_short": { zh: "请写明理由（至少 5 个字）。", en: "Give a reason of 5 characters or more." },
  "accounts.revealed": { zh: "完整信息（已记入审计记录 #{seq}）", en: "Personal data (audit record #{seq})" },
  "accounts.not_proven": { zh: "未实名", en: "not proven" },
  "accounts.case_link": { zh: "查看案件", en: "See cases" },
});

let results = null;
const revealed = new Map(); // account id -> what the reveal answered (kept for a language switch)

function realName(a) {
  if (a.real_name === "verified") {
    return el("span", { class: "status ok" }, t("accounts.verified", {
      method: t("method." + a.real_name_method), date: when(a.real_name_verified_at) }));
  }
  return t("real_name." + a.real_name);
}

function credit(a) {
  if (!a.credit) return t("accounts.no_credit");
  const c = a.credit;
  return t("accounts.credit_line", { limit: yuan(c.limit_fen), used: yuan(c.used_fen), available: yuan(c.available_fen),
    plans: c.active_plans });
}

function revealForm(a, box) {
  const reason = el("textarea", { class: "reveal-reason", "aria-label": t("accounts.reveal_reason") });
  const error = el("div", { hidden: true }); // showError sets its class; the wrapper keeps "reveal-error"
  const confirm = async () => {
    const text = reason.value.trim();
    if (text.length < 5) {
      error.replaceChildren(t("accounts.reveal_short"));
      error.className = "notice error";
      error.hidden = false;
      return;
    }
    try {
      revealed.set(a.account_id, await call("POST", `/v1/operator/accounts/${a.account_id}/reveal`, { reason: text }));
      box.replaceChildren(revealedFacts(a.account_id));
    } catch (e) {
      fail(error, e, ["compliance_officer", "admin"]);
    }
  };
  return el("div", { class: "reveal-form" },
    el("label", {}, t("accounts.reveal_reason")), reason,
    el("p", { class: "notice small" }, t("accounts.reveal_warning")),
    el("button", { class: "danger reveal-confirm", type: "button", onclick: confirm }, t("accounts.reveal_confirm")),
    el("div", { class: "reveal-error" }, error));
}

function revealedFacts(accountId) {
  const r = revealed.get(accountId);
  return el("div", { class: "notice revealed", "data-audit-seq": r.audit_seq },
    el("strong", {}, t("accounts.revealed", { seq: r.audit_seq })),
    el("dl", { class: "facts" },
      field("accounts.mobile", el("span", { class: "revealed-mobile" }, r.mobile)),
      field("accounts.name", el("span", { class: "revealed-name" }, r.name ?? t("accounts.not_proven"))),
      field("accounts.id_number", el("span", { class: "revealed-id-number" }, r.id_number ?? t("accounts.not_proven")))));
}

function accountCard(a) {
  const box = el("div", { class: "reveal-box" });
  if (revealed.has(a.account_id)) {
    box.append(revealedFacts(a.account_id));
  } else {
    box.append(el("button", { class: "secondary reveal", type: "button",
      onclick: () => box.replaceChildren(revealForm(a, box)) }, t("accounts.reveal")));
  }
  return el("section", { class: "card account", "data-account": a.account_id },
    el("dl", { class: "facts" },
      field("accounts.account_id", el("code", {}, a.account_id)),
      field("accounts.tenant", a.tenant_name),
      field("accounts.user", a.platform_user_id),
      field("accounts.mobile", el("span", { class: "masked-mobile" }, a.mobile_masked)),
      field("accounts.name", el("span", { class: "masked-name" }, a.name_masked ?? "—")),
      field("accounts.id_number", el("span", { class: "masked-id-number" }, a.id_number_masked ?? "—")),
      field("accounts.status", el("span", { class: "account-status" }, badge("status", a.status))),
      field("accounts.real_name", realName(a)),
      field("accounts.face_pay", t(a.face_pay ? "accounts.on" : "accounts.off")),
      field("accounts.credit", credit(a)),
      field("accounts.opened", when(a.created_at))),
    box);
}

function render() {
  if (!results) return;
  document.getElementById("results").replaceChildren(
    el("p", { class: "muted small", id: "found" }, results.length ? t("accounts.found", { count: results.length }) : t("accounts.none")),
    ...results.map(accountCard));
}

async function search(event) {
  event.preventDefault();
  const box = document.getElementById("accounts-error");
  const q = document.getElementById("q").value.trim();
  try {
    results = await call("GET", `/v1/operator/accounts?q=${encodeURIComponent(q)}`);
    revealed.clear();
    box.hidden = true;
    render();
  } catch (error) {
    fail(box, error);
  }
}

start("/console/accounts", {
  ready: async () => { document.getElementById("search-form").addEventListener("submit", search); },
  onLanguage: render,
});
