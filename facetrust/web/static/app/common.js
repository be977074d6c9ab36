// What every page of the user app shares: the header, the signed-in user, and a live face check.
import { addStrings, api, confirmDialog, day, el, lang, languageSwitch, session, shortDay, show, t, table, tableBox, tokenFromFragment, translate, yuan } from "../ft.js";
import { record } from "../camera.js";

addStrings({
  "fp.dispute": { zh: "我不认识这笔付款", en: "I don't recognise this" },
  "fp.disputed": { zh: "已申诉，风控人员会核查", en: "Reported; our risk team will look into it" },
  "fp.dispute_title": { zh: "报告一笔不认识的付款？", en: "Report a payment you don't recognise?" },
  "fp.dispute_what": { zh: "我们的风控人员会核查这笔付款并联系您。您的账户不会因此被冻结。", en: "Our risk team will look into this payment and contact you. Your account is not frozen because of it." },
  "fp.dispute_yes": { zh: "报告", en: "Report it" },
  "fp.dispute_no": { zh: "取消", en: "Cancel" },
  "app.title": { zh: "FaceTrust 刷脸服务", en: "FaceTrust" },
  "nav.home": { zh: "首页", en: "Home" },
  "nav.real_name": { zh: "实名认证", en: "Real name" },
  "nav.consents": { zh: "授权与刷脸支付", en: "Consent & face pay" },
  "nav.history": { zh: "账单与记录", en: "Plans & history" },
  "app.signed_out": { zh: "请先登录。", en: "Please sign in first." },
  "app.go_sign_in": { zh: "去登录", en: "Sign in" },
  "sched.number": { zh: "期数", en: "No." },
  "sched.due": { zh: "还款日", en: "Due" },
  "sched.principal": { zh: "本金", en: "Principal" },
  "sched.interest": { zh: "利息", en: "Interest" },
  "sched.fee": { zh: "手续费", en: "Fee" },
  "sched.payment": { zh: "应还", en: "Payment" },
  "sched.title": { zh: "还款计划", en: "Repayment schedule" },
  "fz.title": { zh: "您的账户已被冻结", en: "Your account is frozen" },
  "fz.what": { zh: "冻结期间暂停：付款（包括刷脸支付）、还款、借款、分期购物、钱包充值，以及授权和刷脸支付的开关。",
    en: "While it is frozen, these are paused: payments (face pay too), repayments, borrowing, shopping on installments, wallet top-ups, and changes to your consents and face pay." },
  "fz.why.automatic_checks": { zh: "原因：{date} 我们的自动安全检查发现账户有异常活动。为保护您的资金，账户先暂时冻结，由工作人员复核。",
    en: "Why: on {date} our automatic safety checks saw unusual activity on the account. To protect your money it is frozen until a person on our team has reviewed it." },
  "fz.why.review": { zh: "原因：{date} 起，我们的风控人员正在复核账户的近期活动。为保护您的资金，复核完成前账户暂时冻结。",
    en: "Why: since {date} our risk team has been reviewing recent activity on the account. To protect your money it is frozen until the review is done." },
  "fz.can": { zh: "您仍然可以：", en: "You can still:" },
  "fz.can_see": { zh: "查看账户、钱包余额、账单和还款计划；", en: "see your account, wallet balance, plans and repayment schedule;" },
  "fz.can_records": { zh: "查看授权和实名认证记录；", en: "see your consent and real-name records;" },
  "fz.can_contact": { zh: "联系客服了解复核进度、提供材料，或安排到期的还款，避免逾期。",
    en: "contact support to ask about the review, send what they ask for, or arrange a payment that falls due, so it is not late." },
  "fz.support": { zh: "客服：{contact}", en: "Support: {contact}" },
  "fz.no_borrow": { zh: "账户冻结期间不能借款", en: "No borrowing while the account is frozen" },
  "ff.installment": { zh: "先用人脸验证一次，就可以分期购物", en: "Verify your face once to shop on installments" },
  "ff.loan": { zh: "先用人脸验证一次，就可以借款", en: "Verify your face once to borrow" },
  "ff.face_pay": { zh: "先用人脸验证一次，就可以开通刷脸支付", en: "Verify your face once to use face pay" },
  "ff.why_card": { zh: "这项功能要把您的人脸与实名认证时的人脸比对。您是用银行卡完成的实名认证，没有可比对的人脸。人脸验证约需 10 秒，完成后回到这里继续。",
    en: "This compares your face with the face from your real-name verification. Yours was done by bank card, which has no face to compare with. The face check takes about 10 seconds; then you come back here." },
  "ff.why_none": { zh: "这项功能要把您的人脸与实名认证时的人脸比对。请先用人脸完成实名认证，约需 10 秒，完成后回到这里继续。",
    en: "This compares your face with the face from your real-name verification. Verify your real name with your face first (about 10 seconds); then you come back here." },
  "ff.go": { zh: "去做人脸验证", en: "Verify my face" },
  "fz.no_shop": { zh: "账户冻结期间不能分期购物。", en: "No shopping on installments while the account is frozen." },
});

// A frozen account: what is paused, why in plain words, what the person can still do, and how to
// reach support (the contact comes from the service's settings, with /v1/me). Null when not frozen.
// A frozen account's page shows why and what is left in ``box`` instead of its form; true if it did.
export function showFrozen(box, me) {
  if (!me || me.status !== "frozen") return false;
  box.replaceChildren(frozenNotice(me));
  show(box);
  return true;
}

export function frozenNotice(me) {
  if (me.status !== "frozen") return null;
  session.set("support", me.support_contact); // for the account_frozen error on the other pages
  const cause = (me.frozen && me.frozen.cause) || "review";
  const since = me.frozen ? day(me.frozen.since) : "";
  return el("section", { class: "card frozen", id: "frozen", "aria-labelledby": "frozen-title" },
    el("h2", { id: "frozen-title" }, t("fz.title")),
    el("p", { id: "frozen-what" }, t("fz.what")),
    el("p", { id: "frozen-why" }, t(`fz.why.${cause}`, { date: since })),
    el("p", {}, t("fz.can")),
    el("ul", { id: "frozen-can" }, ["fz.can_see", "fz.can_records", "fz.can_contact"].map((key) => el("li", {}, t(key)))),
    el("p", { class: "support", id: "support-contact" }, t("fz.support", { contact: me.support_contact })));
}

// A repayment schedule as a table (id "schedule"): each period's date, what is paid, and how it
// splits. The payment comes right after the date, so a phone shows it without scrolling the table.
export function scheduleTable(lines) {
  const node = table([
    ["sched.number", (r) => r.number], ["sched.due", (r) => shortDay(r.due_date)],
    ["sched.payment", (r) => yuan(r.payment_fen)], ["sched.principal", (r) => yuan(r.principal_fen)],
    ["sched.interest", (r) => yuan(r.interest_fen)], ["sched.fee", (r) => yuan(r.fee_fen)],
  ], lines);
  node.id = "schedule";
  return tableBox(t("sched.title"), node);
}

// The header: brand, the app's pages (the current one marked), the language switch.
export function header(current, onLanguage) {
  const links = [["/app/", "nav.home"], ["/app/real-name", "nav.real_name"], ["/app/consents", "nav.consents"],
    ["/app/history", "nav.history"]];
  const bar = document.querySelector("header.bar");
  bar.replaceChildren(
    el("a", { class: "brand", href: "/app/", "data-i18n": "app.title" }, t("app.title")),
    el("nav", {}, links.map(([href, key]) =>
      el("a", { href, "data-i18n": key, "aria-current": href === current ? "page" : null }, t(key)))),
    el("button", { id: "lang", class: "link", type: "button" }),
  );
  languageSwitch(onLanguage);
  translate();
}

// The signed-in user's token, or null after showing how to sign in.
export function userToken(main) {
  const token = tokenFromFragment("user");
  if (!token && main) {
    main.replaceChildren(el("section", { class: "card" },
      el("p", {}, t("app.signed_out")),
      el("a", { class: "button", href: "/app/" }, t("app.go_sign_in"))));
  }
  return token;
}

export function signOut() {
  session.clear("user");
  location.assign("/app/");
}

// The consent a credit page needs: {granted, notice}. A page that lacks it shows the notice text
// next to its confirm button and grants it (against that notice's version) when the person confirms.
export async function consentFor(token, purpose) {
  const [notices, consents] = await Promise.all([api("GET", "/v1/consent-notices", { token }), api("GET", "/v1/me/consents", { token })]);
  return { granted: Boolean(consents.granted[purpose]), notice: notices.find((n) => n.purpose === purpose) };
}

export async function grant(token, notice) {
  await api("POST", `/v1/me/consents/${notice.purpose}`, { token, body: { notice_version: notice.version } });
}

// A live face check for ``purpose``: issue the challenge, record the person answering it, send the
// frames. Resolves to the passed session's id; a failed check throws with its first reason as code,
// the instructions of the actions that were not seen (``actions``: "请眨眨眼"), and how many tries
// are left before face checks are paused (``attempts_left``), as the service answered them.
export async function liveCheck(box, token, purpose) {
  const challenge = await api("POST", "/v1/me/liveness-sessions", { token, body: { purpose } });
  const capture = await record(box, challenge);
  const decided = await api("POST", `/v1/me/liveness-sessions/${challenge.session_id}/capture`, { token, body: capture });
  if (decided.status !== "passed") {
    const error = new Error("liveness check failed");
    error.code = decided.outcome || "liveness_failed";
    const missing = error.code === "action_not_performed" ? (decided.missing_actions || []) : [];
    const words = missing.map((a) => challenge.instructions[challenge.actions.indexOf(a)]).filter(Boolean)
      .map((pair) => pair[lang] || pair.en);
    error.extra = { attempts_left: decided.attempts_left ?? undefined, actions: words.length ? words.join(lang === "zh" ? "、" : ", ") : undefined };
    throw error;
  }
  return challenge.session_id;
}

// Where a feature that compares faces (face pay, installments, loans) sends a person whose real name
// was verified by bank card only: the face real-name check, then back to ``next``.
export function faceFirstLink(next) {
  // only a page of this app is a place to come back to
  return `/app/real-name?add=face&next=${encodeURIComponent(next)}`;
}

// Said before any capture: this feature needs a face real-name verification, and the way to it.
// ``byCard``: the real name was verified by bank card (else not at all).
export function faceFirstNotice(feature, next, byCard) {
  return el("section", { class: "notice", id: "face-first", role: "note" },
    el("strong", {}, t(`ff.${feature}`)),
    el("p", {}, t(byCard ? "ff.why_card" : "ff.why_none")),
    el("a", { class: "button", id: "face-first-go", href: faceFirstLink(next) }, t("ff.go")));
}

// Whether the person's real name was verified by bank card (for the words of faceFirstNotice).
export async function verifiedByCard(token) {
  const records = await api("GET", "/v1/me/real-name", { token });
  return records.some((r) => r.outcome === "passed" && r.method === "bank_card");
}

// "I don't recognise this" on a face payment (the face-pay card, the history): asks first, in the
// page's language, what happens (a review by the risk team; nothing is frozen by it).
export function askToDispute() {
  return confirmDialog({ title: t("fp.dispute_title"), text: t("fp.dispute_what"),
    confirm: t("fp.dispute_yes"), cancel: t("fp.dispute_no") });
}
