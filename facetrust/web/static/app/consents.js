// Consent, one purpose at a time, each with its own notice text; and the face-pay switch, off
// until the person turns it on (its own consent, a live check) and revocable with one button.
import { addStrings, api, day, el, hide, lang, showError, t, yuan } from "../ft.js";
import { header, liveCheck, userToken } from "./common.js";

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
  "fp.saving": { zh: "正在开通…", en: "Switching on…" },
});

const $ = (id) => document.getElementById(id);
const token = userToken($("main"));
let notices = [];
let consents = { granted: {}, history: [] };
let facePay = null;
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
  return el("section", { class: "card", id: "face-pay" },
    el("div", { class: "switch" }, el("h2", {}, t(on ? "fp.on" : "fp.off")),
      el("span", { class: `status ${on ? "on" : ""}`, id: "face-pay-state", role: "switch", "aria-checked": String(on) },
        t(on ? "fp.state_on" : "fp.state_off"))),
    el("p", { class: "notice-text" }, notice[lang]),
    el("p", { class: "small muted" }, t("cs.version", { version: notice.version })),
    on ? el("p", {}, t("fp.since", { date: day(facePay.enrolled_at) }), el("br"), limits) : null,
    message ? el("div", { class: "notice ok", id: "face-pay-message", role: "status" }, t(message)) : null,
    el("div", { id: "face-pay-capture", hidden: true }),
    on
      ? el("button", { class: "danger block", type: "button", id: "face-pay-revoke", onclick: revoke }, t("fp.revoke"))
      : el("button", { class: "block", type: "button", id: "face-pay-on", onclick: () => switchOn(notice) },
        t(consented ? "fp.switch_on_consented" : "fp.switch_on")));
}

function render() {
  if (!facePay) return;
  $("purposes").replaceChildren(...notices.map((n) => (n.purpose === "face_pay" ? facePayCard(n) : consentCard(n))));
}

async function refresh() {
  [notices, consents, facePay] = await Promise.all([
    api("GET", "/v1/consent-notices", { token }), api("GET", "/v1/me/consents", { token }), api("GET", "/v1/me/face-pay", { token })]);
  render();
}

async function act(work) {
  hide($("error"));
  document.querySelectorAll("#purposes button").forEach((b) => { b.disabled = true; });
  try {
    await work();
  } catch (e) {
    showError($("error"), e);
    $("error").scrollIntoView({ block: "center" });
  }
  await refresh().catch((e) => showError($("error"), e));
}

const grant = (notice) => act(async () => {
  message = null;
  await api("POST", `/v1/me/consents/${notice.purpose}`, { token, body: { notice_version: notice.version } });
});

const withdraw = (purpose) => act(async () => {
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
  box.replaceChildren(el("p", { class: "muted" }, t("fp.saving")));
  await api("POST", "/v1/me/face-pay", { token, body: { liveness_session_id: sessionId } });
  message = "fp.enabled";
});

const revoke = () => act(async () => {
  await api("DELETE", "/v1/me/face-pay", { token });
  message = "fp.revoked";
});

header("/app/consents", render);
if (token) refresh().catch((e) => showError($("error"), e));
