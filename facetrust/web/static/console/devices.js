// Device reviews (GET /v1/operator/device-reviews): a person asked to bind a new device after the
// face and bank-card checks could not prove them; an operator approves (the device is bound, with the
// cool-down) or denies it with a reason (POST .../decision, audited and noted in the review's case).
// The account shows as the API names it (our internal id, shortened like the other console tables);
// the API gives no name, mobile, ID number or face. A compliance officer reads but may not decide.
import { addStrings, confirmDialog, el, t, tableBox, when } from "../ft.js";
import { badge, call, fail, me, roleName, shortId, start } from "./common.js";
import { codeName } from "./labels.js";

addStrings({
  "reviews.title": { zh: "换绑设备审核", en: "Device reviews" },
  "reviews.explain": { zh: "用户在新设备上无法通过人脸或银行卡验证时，可申请人工审核。通过后该设备被绑定（需经过冷静期才能出款），拒绝则保持未绑定。决定和理由记入审计日志和对应案件。",
    en: "When a person cannot prove it is them on a new device by face or bank card, they can ask for a review. Approving binds the device (money waits for the cool-down); denying leaves it unbound. The decision and the reason go to the audit log and the review's case." },
  "reviews.status": { zh: "状态", en: "Status" },
  "reviews.all": { zh: "全部", en: "All" },
  "reviews.count": { zh: "共 {count} 条审核申请，按申请时间从新到旧排列。", en: "Reviews: {count}, newest first." },
  "reviews.none": { zh: "没有符合条件的审核申请。", en: "No review matches." },
  "reviews.col_requested": { zh: "申请时间", en: "Requested" },
  "reviews.col_account": { zh: "账户", en: "Account" },
  "reviews.col_device": { zh: "设备", en: "Device" },
  "reviews.col_note": { zh: "用户留言", en: "Note from the person" },
  "reviews.col_status": { zh: "状态", en: "Status" },
  "reviews.col_decided": { zh: "处理", en: "Decided" },
  "reviews.col_case": { zh: "案件", en: "Case" },
  "reviews.col_action": { zh: "操作", en: "Action" },
  "reviews.decided": { zh: "{who}，{at}：{reason}", en: "{who}, {at}: {reason}" },
  "reviews.approve": { zh: "通过", en: "Approve" },
  "reviews.deny": { zh: "拒绝", en: "Deny" },
  "reviews.approve_label": { zh: "通过审核 {id}", en: "Approve review {id}" },
  "reviews.deny_label": { zh: "拒绝审核 {id}", en: "Deny review {id}" },
  "reviews.approve_title": { zh: "通过并绑定此设备？", en: "Approve and bind this device?" },
  "reviews.deny_title": { zh: "拒绝此换绑申请？", en: "Deny this device review?" },
  "reviews.approve_text": { zh: "该设备将成为此账户的绑定设备，旧设备会收到通知；冷静期结束前不能出款。", en: "The device becomes the account's bound device and the old device is told; money cannot leave before the cool-down ends." },
  "reviews.deny_text": { zh: "该设备保持未绑定，用户会收到拒绝通知。", en: "The device stays unbound and the person is told it was denied." },
  "reviews.audited": { zh: "您的姓名、决定和理由会记入审计日志和案件。", en: "Your name, the decision and the reason are written to the audit log and the case." },
  "reviews.reason": { zh: "理由（必填）", en: "Reason (required)" },
  "reviews.reason_missing": { zh: "未处理：请填写理由。", en: "Nothing was decided: enter a reason." },
  "reviews.approved": { zh: "已通过：设备 {device} 已绑定到账户 {account}。", en: "Approved: device {device} is bound to account {account}." },
  "reviews.denied": { zh: "已拒绝：设备 {device} 保持未绑定。", en: "Denied: device {device} stays unbound." },
  "reviews.readonly": { zh: "您的角色（{role}）只能查看审核申请；处理需要风控分析师或管理员。", en: "Your role ({role}) can read the reviews; deciding needs a risk analyst or an admin." },
});

const DECIDERS = ["risk_analyst", "admin"]; // facetrust/devices/routes.py REVIEWERS
let reviews = null;
let loads = 0; // the latest list request: an older answer arriving late must not replace it
let result = null; // the last decision (or why none was made), re-rendered in the other language

const mayDecide = () => me && DECIDERS.includes(me.role);

// The person's note comes back from the API as they typed it, and may hold an ID, card or mobile
// number: masked here as facetrust/security/audit.py mask_text masks them in the audit log.
function masked(text) {
  return text.replace(/(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])/g, "$1**********$2")
    .replace(/(?<![0-9A-Za-z])\d{8,15}(\d{4})(?![0-9A-Za-z])/g, "****$1")
    .replace(/(?<![0-9A-Za-z])(1\d{2})\d{4}(\d{4})(?![0-9A-Za-z])/g, "$1****$2");
}

function renderResult() {
  if (!result) return;
  const box = document.getElementById("reviews-result");
  box.hidden = false;
  box.className = `notice ${result.review ? "ok" : "error"}`;
  box.setAttribute("role", result.review ? "status" : "alert");
  const r = result.review;
  box.textContent = !r ? t("reviews.reason_missing")
    : t(r.status === "approved" ? "reviews.approved" : "reviews.denied", { device: r.device_id, account: shortId(r.account_id) });
}

function render() {
  renderResult();
  const readonly = document.getElementById("reviews-readonly");
  readonly.hidden = mayDecide();
  if (me) readonly.textContent = t("reviews.readonly", { role: roleName(me.role) });
  if (!reviews) return;
  document.getElementById("reviews-count").textContent = reviews.length
    ? t("reviews.count", { count: reviews.length }) : t("reviews.none");
  const columns = [
    ["reviews.col_requested", (r) => when(r.created_at), "when"],
    ["reviews.col_account", (r) => el("code", { title: r.account_id }, shortId(r.account_id))],
    ["reviews.col_device", (r) => el("code", {}, r.device_id)],
    ["reviews.col_note", (r) => (r.note ? masked(r.note) : "—"), "small"],
    ["reviews.col_status", (r) => badge("review_status", r.status, codeName("review_status.", r.status))],
    ["reviews.col_decided", (r) => (r.decided_at
      ? t("reviews.decided", { who: r.decided_by, at: when(r.decided_at), reason: r.reason }) : "—"), "small"],
    ["reviews.col_case", (r) => el("a", { href: `/console/case#${r.case_id}`, title: r.case_id }, shortId(r.case_id))],
  ];
  if (mayDecide()) {
    columns.push(["reviews.col_action", (r) => (r.status !== "pending" ? "—" : el("div", { class: "row buttons" },
      el("button", { type: "button", class: "approve", "aria-label": t("reviews.approve_label", { id: shortId(r.review_id) }),
        onclick: () => decide(r, "approve") }, t("reviews.approve")),
      el("button", { type: "button", class: "danger deny", "aria-label": t("reviews.deny_label", { id: shortId(r.review_id) }),
        onclick: () => decide(r, "deny") }, t("reviews.deny"))))]);
  }
  document.getElementById("reviews").replaceChildren(reviews.length ? tableBox(t("reviews.title"), el("table", { id: "reviews-table" },
    el("thead", {}, el("tr", {}, columns.map(([key]) => el("th", {}, t(key))))),
    el("tbody", {}, reviews.map((r) => el("tr", { "data-review": r.review_id, "data-status": r.status },
      columns.map(([, cell, cls]) => el("td", { class: cls }, cell(r)))))))) : null);
}

async function decide(r, decision) {
  const reason = el("textarea", { id: "decision-reason", maxlength: "500" });
  const ok = await confirmDialog({
    title: t(`reviews.${decision}_title`),
    facts: [[t("reviews.col_account"), r.account_id], [t("reviews.col_device"), r.device_id],
      [t("reviews.col_requested"), when(r.created_at)]],
    text: [t(`reviews.${decision}_text`), t("reviews.audited"), el("label", { for: "decision-reason" }, t("reviews.reason")), reason],
    confirm: t(`reviews.${decision}`),
    danger: decision === "deny",
  });
  if (!ok) return;
  const text = reason.value.trim();
  const box = document.getElementById("reviews-result");
  if (!text) {
    result = { review: null };
    return renderResult();
  }
  try {
    result = { review: await call("POST", `/v1/operator/device-reviews/${r.review_id}/decision`, { decision, reason: text }) };
    renderResult();
    await load();
  } catch (error) {
    result = null;
    box.removeAttribute("role");
    fail(box, error, DECIDERS);
  }
}

async function load() {
  const status = document.getElementById("reviews-status").value;
  const box = document.getElementById("reviews-error");
  try {
    const seq = ++loads;
    const found = await call("GET", "/v1/operator/device-reviews" + (status ? `?status=${status}` : ""));
    if (seq !== loads) return; // a newer search was asked for while this one was on its way
    reviews = found;
    box.hidden = true;
    render();
  } catch (error) {
    fail(box, error, ["risk_analyst", "compliance_officer", "admin"]);
  }
}

start("/console/devices", {
  ready: async () => {
    document.getElementById("reviews-status").addEventListener("change", load);
    await load();
  },
  onLanguage: render,
});
