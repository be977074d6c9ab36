// Consent, one purpose at a time, each with its own notice text; and the face-pay switch, off
// until the person turns it on (its own consent, a live check) and revocable with one button.
import { addStrings, api, confirmDialog, day, el, hide, lang, setErrorPage, showError, t, yuan } from "../ft.js";
import { working } from "../camera.js";
import { askToDispute, faceFirstNotice, header, liveCheck, userToken, verifiedByCard } from "./common.js";

addStrings({
  "cs.title": { zh: "授权与刷脸支付", en: "Consent and face pay" },
  "cs.explain": { zh: "每一项授权都是独立的，您可以随时撤回。", en: "Each consent is separate, and you can withdraw any of them at any time." },
  "purpose.kyc_face_verification": { zh: "人脸实名认证", en: "Face real-name verification" },
  "purpose.face_pay": { zh: "刷脸支付", en: "Face pay" },
  "purpose.credit_face_verification": { zh: "分期与借款人脸确认", en: "Face confirmation for installments and loans" },
  "cs.version": { zh: "说明版本 {version}", en: "Notice version {version}" },
  "cs.granted": { zh: "已同意", en: "Given" },
  "cs.not_granted": { zh: "未同意", en: "Not given" },
  "cs.grant": { zh: "同意", en: "Agree" },
  "cs.withdraw": { zh: "撤回同意", en: "Withdraw" },
  "fp.state_on": { zh: "开", en: "On" },
  "fp.state_off": { zh: "关", en: "Off" },
  "fp.off": { zh: "刷脸支付：已关闭", en: "Face pay: off" },
  "fp.on": { zh: "刷脸支付：已开通", en: "Face pay: on" },
  "fp.since": { zh: "开通于 {date}", en: "On since {date}" },
  "fp.limits": { zh: "单笔限额 ¥{tx}，每日限额 ¥{day}，今日已用 ¥{spent}", en: "Limit ¥{tx} per payment, ¥{day} per day; ¥{spent} spent today" },
  "fp.switch_on": { zh: "同意并开通刷脸支付", en: "Agree and switch on face pay" },
  "fp.switch_on_consented": { zh: "开通刷脸支付", en: "Switch on face pay" },
  "fp.revoke": { zh: "关闭刷脸支付并删除人脸特征", en: "Switch off face pay and delete my face template" },
  "fp.revoked": { zh: "刷脸支付已关闭，您的人脸特征已删除。", en: "Face pay is off and your face template has been deleted." },
  "fp.enabled": { zh: "刷脸支付已开通。", en: "Face pay is on." },
  "fp.revoke_title": { zh: "关闭刷脸支付并删除人脸特征？", en: "Switch off face pay and delete your face template?" },
  "fp.revoke_what": { zh: "确认后，刷脸支付立即停止，您的人脸特征会被永久删除，任何售货机都不能再用您的脸付款。",
    en: "When you confirm, face pay stops at once and your face template is deleted for good: no machine can take a payment with your face." },
  "fp.revoke_again": { zh: "以后想再使用，需要重新同意并刷脸开通。您的钱包、账单和记录不受影响。",
    en: "To use it again later you agree and switch it on with a live check again. Your wallet, plans and history stay as they are." },
  "fp.revoke_yes": { zh: "关闭并删除", en: "Switch off and delete" },
  "fp.revoke_no": { zh: "保持开通", en: "Keep it on" },
  "cs.withdraw_title": { zh: "撤回“{purpose}”的同意？", en: "Withdraw your consent to \u201c{purpose}\u201d?" },
  "cs.withdraw_what.kyc_face_verification": { zh: "撤回后，我们不再为实名认证处理您的人脸；已完成的实名认证结果仍然保留。",
    en: "After this we no longer process your face for real-name verification; a verification already done stays on record." },
  "cs.withdraw_what.face_pay": { zh: "撤回后，刷脸支付立即停止，您的人脸特征会被永久删除。",
    en: "After this face pay stops at once and your face template is deleted for good." },
  "cs.withdraw_what.credit_face_verification": { zh: "撤回后，分期和借款无法再用刷脸确认，需要时请重新同意；已有的分期和借款不受影响。",
    en: "After this installments and loans can no longer be confirmed with your face until you agree again; plans you have stay as they are." },
  "cs.withdraw_yes": { zh: "撤回同意", en: "Withdraw" },
  "cs.withdraw_no": { zh: "保留同意", en: "Keep it" },
  "fp.saving": { zh: "正在开通…", en: "Switching on…" },
  // The person's own controls (issue 24): a pause, their own limits, and disputing a payment.
  "fp.paused": { zh: "已暂停：任何售货机都不会识别您，人脸特征仍保留。", en: "Paused: no machine will recognise you; your face template is kept." },
  "fp.pause": { zh: "暂停刷脸支付", en: "Pause face pay" },
  "fp.resume": { zh: "恢复刷脸支付", en: "Resume face pay" },
  "fp.own_title": { zh: "我自己的限额", en: "My own limits" },
  "fp.own_explain": { zh: "可以设得比平台限额更低，留空则使用平台限额。", en: "You can set them lower than the platform's; leave empty to use the platform's." },
  "fp.own_tx": { zh: "单笔（元）", en: "Per payment (yuan)" },
  "fp.own_day": { zh: "每日（元）", en: "Per day (yuan)" },
  "fp.own_save": { zh: "保存我的限额", en: "Save my limits" },
  "fp.own_saved": { zh: "您的限额已保存。", en: "Your limits are saved." },
  "fp.recent": { zh: "最近的刷脸付款", en: "Recent face payments" },
});

const $ = (id) => document.getElementById(id);
setErrorPage("face_pay");
const token = userToken($("main"));
let me = null;
let byCard = false;
let notices = [];
let consents = { granted: {}, history: [] };
let facePay = null;
let wallet = { payments: [] };
let message = null;

function consentCard(notice) {
  const granted = Boolean(consents.granted[notice.purpose]);
  const last = consents.history.filter((h) => h.purpose === notice.purpose).at(-1);
  return el("section", { class: "card", id: `purpose-${notice.purpose}` },
    el("div", { class: "switch" }, el("h2", {}, t(`purpose.${notice.purpose}`)),
      el("span", { class: `status ${granted ? "ok" : ""}` }, t(granted ? "cs.granted" : "cs.not_granted"))),
    el("p", { class: "notice-text" }, notice[lang]),
    el("p", { class: "small muted" }, t("cs.version", { version: notice.version }), last ? ` · ${day(last.at)}` : ""),
    granted
      ? el("button", { class: "secondary", type: "button", onclick: () => withdraw(notice.purpose) }, t("cs.withdraw"))
      : el("button", { type: "button", onclick: () => grant(notice) }, t("cs.grant")));
}

function facePayCard(notice) {
  const on = facePay.enabled;
  const consented = Boolean(consents.granted.face_pay);
  const limits = t("fp.limits", { tx: yuan(facePay.transaction_limit_fen), day: yuan(facePay.daily_limit_fen), spent: yuan(facePay.spent_today_fen) });
  const needsFace = !on && me && !me.face_verified;
  // The state is a real switch (a button: focusable, Space and Enter work): turning it on starts the
  // live check, turning it off asks first, as the buttons under the notice do.
  return el("section", { class: "card", id: "face-pay" },
    el("div", { class: "switch" }, el("h2", { id: "face-pay-title" }, t(on ? "fp.on" : "fp.off")),
      el("button", { type: "button", class: `toggle ${on ? "on" : ""}`, id: "face-pay-state", role: "switch",
        "aria-checked": String(on), "aria-labelledby": "face-pay-title", disabled: needsFace,
        "aria-describedby": needsFace ? "face-first" : null, onclick: () => (on ? revoke() : switchOn(notice)) },
      el("span", { class: "knob", "aria-hidden": "true" }), el("span", { class: "label" }, t(on ? "fp.state_on" : "fp.state_off")))),
    el("p", { class: "notice-text" }, notice[lang]),
    el("p", { class: "small muted" }, t("cs.version", { version: notice.version })),
    on ? el("p", {}, t("fp.since", { date: day(facePay.enrolled_at) }), el("br"), limits) : null,
    on && facePay.paused ? el("p", { class: "notice", id: "face-pay-paused", role: "status" }, t("fp.paused")) : null,
    message ? el("div", { class: "notice ok", id: "face-pay-message", role: "status" }, t(message)) : null,
    on ? ownControls() : null,
    el("div", { id: "face-pay-capture", hidden: true }),
    // Face pay compares with the real-name face: without one, say so before any capture, with the way there.
    needsFace ? faceFirstNotice("face_pay", "/app/consents", byCard)
    : on
      ? el("button", { class: "danger block", type: "button", id: "face-pay-revoke", onclick: revoke }, t("fp.revoke"))
      : el("button", { class: "block", type: "button", id: "face-pay-on", onclick: () => switchOn(notice) },
        t(consented ? "fp.switch_on_consented" : "fp.switch_on")));
}

// Their own limits (yuan in the form, fen to the service), the pause, and the recent face payments
// each with "I don't recognise this".
function ownControls() {
  const input = (id, fen) => el("input", { id, type: "number", min: "0.01", step: "0.01", inputmode: "decimal",
    value: fen ? (fen / 100).toFixed(2) : "" });
  const paid = wallet.payments.filter((p) => p.status === "paid").slice(0, 10);
  return el("div", { id: "face-pay-own" },
    el("button", { class: "secondary block", type: "button", id: "face-pay-pause", onclick: () => pause(!facePay.paused) },
      t(facePay.paused ? "fp.resume" : "fp.pause")),
    el("h3", {}, t("fp.own_title")),
    el("p", { class: "small muted" }, t("fp.own_explain")),
    el("div", { class: "row" },
      el("label", {}, t("fp.own_tx"), input("own-tx", facePay.own_transaction_limit_fen)),
      el("label", {}, t("fp.own_day"), input("own-day", facePay.own_daily_limit_fen))),
    el("button", { class: "secondary", type: "button", id: "own-save", onclick: saveLimits }, t("fp.own_save")),
    paid.length ? el("h3", {}, t("fp.recent")) : null,
    paid.length ? el("ul", { id: "face-payments" }, paid.map((p) => el("li", {},
      `${day(p.decided_at)} · ${p.merchant_name} · ¥${yuan(p.amount_fen)} `,
      p.disputed ? el("span", { class: "small muted" }, t("fp.disputed"))
        : el("button", { class: "secondary", type: "button", onclick: () => dispute(p.intent_id) }, t("fp.dispute"))))) : null);
}

const fen = (id) => {
  const v = $(id).value.trim();
  return v === "" ? null : Math.round(Number(v) * 100);
};

const saveLimits = () => act(async () => {
  message = null;
  await api("PUT", "/v1/me/face-pay/limits", { token, body: { transaction_limit_fen: fen("own-tx"), daily_limit_fen: fen("own-day") } });
  message = "fp.own_saved";
});

const pause = (paused) => act(async () => {
  message = null;
  await api("PUT", "/v1/me/face-pay/pause", { token, body: { paused } });
});

async function dispute(intentId) {
  if (await askToDispute()) await act(() => api("POST", `/v1/me/face-pay/payments/${intentId}/dispute`, { token }));
}

function render() {
  if (!facePay) return;
  $("purposes").replaceChildren(...notices.map((n) => (n.purpose === "face_pay" ? facePayCard(n) : consentCard(n))));
}

async function refresh() {
  [notices, consents, facePay, me, wallet] = await Promise.all([
    api("GET", "/v1/consent-notices", { token }), api("GET", "/v1/me/consents", { token }), api("GET", "/v1/me/face-pay", { token }),
    api("GET", "/v1/me", { token }), api("GET", "/v1/me/wallet", { token })]);
  if (!me.face_verified) byCard = await verifiedByCard(token);
  render();
}

async function act(work) {
  hide($("error"));
  document.querySelectorAll("#purposes button").forEach((b) => { b.disabled = true; });
  try {
    await work();
  } catch (e) {
    showError($("error"), e, { reveal: true });
  }
  await refresh().catch((e) => showError($("error"), e));
}

const grant = (notice) => act(async () => {
  message = null;
  await api("POST", `/v1/me/consents/${notice.purpose}`, { token, body: { notice_version: notice.version } });
});

// Withdrawing a consent and switching face pay off delete or stop something: each asks first, in the page.
async function withdraw(purpose) {
  const agreed = await confirmDialog({ title: t("cs.withdraw_title", { purpose: t(`purpose.${purpose}`) }),
    text: t(`cs.withdraw_what.${purpose}`), confirm: t("cs.withdraw_yes"), cancel: t("cs.withdraw_no"), danger: true });
  if (agreed) await withdrawNow(purpose);
}

const withdrawNow = (purpose) => act(async () => {
  message = purpose === "face_pay" ? "fp.revoked" : null;
  await api("DELETE", `/v1/me/consents/${purpose}`, { token });
});

const switchOn = (notice) => act(async () => {
  message = null;
  if (!consents.granted.face_pay) {
    await api("POST", "/v1/me/consents/face_pay", { token, body: { notice_version: notice.version } });
  }
  const box = $("face-pay-capture");
  const sessionId = await liveCheck(box, token, "face_pay_enrolment");
  working(box, t("fp.saving"));
  await api("POST", "/v1/me/face-pay", { token, body: { liveness_session_id: sessionId } });
  message = "fp.enabled";
});

async function revoke() {
  const agreed = await confirmDialog({ title: t("fp.revoke_title"), text: [t("fp.revoke_what"), t("fp.revoke_again")],
    confirm: t("fp.revoke_yes"), cancel: t("fp.revoke_no"), danger: true });
  if (agreed) await revokeNow();
}

const revokeNow = () => act(async () => {
  await api("DELETE", "/v1/me/face-pay", { token });
  message = "fp.revoked";
});

header("/app/consents", render);
if (token) refresh().catch((e) => showError($("error"), e));
