// Real-name authentication: the person chooses face or bank card (shown as equals). The face path
// takes the consent for it, a live capture, and the authority's comparison; a failure offers the
// other method.
import { addStrings, api, day, el, hide, lang, setErrorPage, show, showError, t } from "../ft.js";
import { working } from "../camera.js";
import { validIdNumber } from "../idnumber.js";
import { sourceText } from "../sources.js";
import { header, liveCheck, userToken } from "./common.js";

addStrings({
  "rn.title": { zh: "实名认证", en: "Real-name verification" },
  "rn.choose": { zh: "请选择一种认证方式，两种方式效力相同：", en: "Choose how to verify; both count the same:" },
  "rn.face": { zh: "人脸认证", en: "Face" },
  "rn.face_explain": { zh: "本人面对摄像头完成动作，与身份证照片比对。", en: "Do a short check in front of the camera; we compare you with your ID photo." },
  "rn.card": { zh: "银行卡认证", en: "Bank card" },
  "rn.card_explain": { zh: "填写本人银行卡和银行预留手机号，由银行核对。", en: "Enter your bank card and the mobile the bank holds; the bank checks them." },
  "rn.name": { zh: "姓名", en: "Name" },
  "rn.id_number": { zh: "身份证号码", en: "ID number" },
  "rn.id_invalid": { zh: "身份证号码不正确，请检查最后一位校验码。", en: "This ID number is not valid; check the last character." },
  "rn.id_length": { zh: "身份证号码应为 18 位。", en: "An ID number has 18 characters." },
  "rn.card_number": { zh: "银行卡号", en: "Card number" },
  "rn.mobile": { zh: "银行预留手机号", en: "Mobile number held by the bank" },
  "rn.notice": { zh: "人脸信息使用说明", en: "How we use your face" },
  "rn.agree_start": { zh: "同意并开始人脸检测", en: "Agree and start the face check" },
  "rn.start": { zh: "开始人脸检测", en: "Start the face check" },
  "rn.verify_card": { zh: "获取银行短信验证码", en: "Get the bank's text-message code" },
  "rn.code": { zh: "短信验证码", en: "Code from the text message" },
  "rn.code_sent": { zh: "银行已向该卡的预留手机号发送验证码，请在 5 分钟内输入。",
    en: "The bank has texted a code to the mobile it holds for this card; enter it within 5 minutes." },
  "rn.confirm_code": { zh: "提交验证码完成认证", en: "Enter the code and finish" },
  "rn.use_card": { zh: "改用银行卡认证", en: "Use a bank card instead" },
  "rn.use_face": { zh: "改用人脸认证", en: "Use face verification instead" },
  "rn.comparing": { zh: "正在与身份证照片比对…", en: "Comparing with your ID photo…" },
  "rn.passed": { zh: "实名认证已完成", en: "Your real name is verified" },
  "rn.passed_detail": { zh: "认证方式：{method}；时间：{date}。认证记录按反洗钱规定保存。",
    en: "Method: {method}; on {date}. The record is kept as anti-money-laundering rules require." },
  "rn.source": { zh: "核验来源：{source}", en: "Checked by: {source}" },
  "rn.next_face_pay": { zh: "开通刷脸支付", en: "Switch on face pay" },
  "rn.home": { zh: "回到首页", en: "Back home" },
  "rn.add_face_title": { zh: "添加人脸验证", en: "Add face verification" },
  "rn.add_face_why": { zh: "银行卡认证没有人脸。刷脸支付、分期购物和借款要把您的脸与实名认证时的人脸比对，用人脸验证一次就能使用它们。您的银行卡认证仍然有效。",
    en: "A bank-card verification has no face. Face pay, installments and loans compare your face with the one from your real-name verification: verify your face once to use them. Your bank-card verification stays valid." },
  "rn.add_face": { zh: "用人脸验证一次", en: "Verify my face once" },
  "rn.add_face_form": { zh: "请填写与银行卡认证相同的姓名和身份证号码，然后完成人脸检测，我们会与身份证登记照片比对。",
    en: "Enter the same name and ID number as for the bank card, then do the face check; we compare you with the ID photo the authority holds." },
  "rn.continue": { zh: "继续刚才的操作", en: "Continue where you were" },
  "method.face": { zh: "人脸", en: "face" },
  "method.bank_card": { zh: "银行卡", en: "bank card" },
});

const PURPOSE = "kyc_face_verification";
const $ = (id) => document.getElementById(id);
setErrorPage("real_name");
const token = userToken($("main"));
const query = new URLSearchParams(location.search);
// Sent here by a feature that needs a face (face pay, installments, loans): add the face check, then
// go back. Only a page of this app is a place to go back to.
const addFace = query.get("add") === "face";
const next = /^\/app\/[^/]/.test(query.get("next") || "") ? query.get("next") : null;
let faceVerified = false; // a face real-name verification is on file (GET /v1/me: face_verified)
let method = null;
let notices = [];
let consentGiven = false;
let verified = null;
let challenge = null; // a bank-card verification waiting for the texted code

function renderDone() {
  if (!verified) return;
  const adding = method === "face" && !faceVerified; // the face form is open under this notice
  // (replaceChildren would show a null, the add-face card of a face-verified person, as "null")
  $("done").replaceChildren(...[el("section", { class: "notice ok", id: "verified", tabindex: "-1" },
    el("strong", {}, t("rn.passed")),
    el("p", {}, t("rn.passed_detail", { method: t(`method.${verified.method}`), date: day(verified.created_at) })),
    el("p", { class: "small muted" }, t("rn.source", { source: sourceText(verified) })),
    faceVerified ? el("div", { class: "row" },
      next ? el("a", { class: "button", id: "continue", href: next }, t("rn.continue")) : null,
      next ? null : el("a", { class: "button", href: "/app/consents" }, t("rn.next_face_pay")),
      el("a", { class: "button secondary", href: "/app/" }, t("rn.home"))) : null),
    // Verified by bank card only: what that leaves out, and the face check as the way to it.
    faceVerified ? null : el("section", { class: "card", id: "add-face", "aria-labelledby": "add-face-title" },
      el("h2", { id: "add-face-title" }, t("rn.add_face_title")),
      el("p", {}, t(adding ? "rn.add_face_form" : "rn.add_face_why")),
      adding ? null : el("button", { class: "block", type: "button", id: "add-face-start", onclick: () => choose("face") }, t("rn.add_face")))]
    .filter(Boolean));
  show($("done"));
}

function renderForm() {
  if (!method) return;
  const face = method === "face";
  $("form-title").textContent = t(face ? "rn.face" : "rn.card");
  $("card-fields").hidden = face;
  $("notice").hidden = !face;
  const notice = notices.find((n) => n.purpose === PURPOSE);
  if (notice) $("notice-text").textContent = notice[lang];
  $("code-fields").hidden = face || !challenge;
  $("code-sent").textContent = t("rn.code_sent");
  $("submit").textContent = t(face ? (consentGiven ? "rn.start" : "rn.agree_start")
    : (challenge ? "rn.confirm_code" : "rn.verify_card"));
  $("switch-method").textContent = t(face ? "rn.use_card" : "rn.use_face");
  $("switch-method").hidden = Boolean(verified); // adding a face to a bank-card verification
}

function choose(which) {
  method = which;
  challenge = null;
  hide($("error"));
  hide($("choose"));
  show($("form"));
  renderForm();
  renderDone();
  $("name").focus();
}

// The ID number's own error, tied to the field (aria-invalid, aria-describedby) so a screen reader
// reads it with the field: while typing once all 18 characters are in, and for any length on submit.
function checkIdNumber({ submitting = false } = {}) {
  const field = $("id-number");
  const value = field.value.trim().toUpperCase();
  const bad = (value.length === 18 || submitting) && !validIdNumber(value);
  $("id-hint").hidden = !bad;
  $("id-hint").textContent = bad ? t(value.length === 18 ? "rn.id_invalid" : "rn.id_length") : "";
  field.setAttribute("aria-invalid", String(bad));
  if (bad) field.setAttribute("aria-describedby", "id-hint");
  else field.removeAttribute("aria-describedby");
  return value;
}

async function submitFace(name, idNumber) {
  if (!consentGiven) {
    const notice = notices.find((n) => n.purpose === PURPOSE);
    await api("POST", `/v1/me/consents/${PURPOSE}`, { token, body: { notice_version: notice.version } });
    consentGiven = true;
  }
  hide($("form"));
  show($("capture-card"));
  try {
    const sessionId = await liveCheck($("capture"), token, "real_name");
    working($("capture"), t("rn.comparing"));
    return await api("POST", "/v1/me/real-name/face", { token, body: { name, id_number: idNumber, liveness_session_id: sessionId } });
  } finally {
    hide($("capture-card"));
  }
}

// Bank card, the way banks do it: the four elements first (the bank texts a code to the card's
// reserved mobile), then the code. Returns null while the code is awaited.
async function submitCard(name, idNumber) {
  if (!challenge) {
    challenge = (await api("POST", "/v1/me/real-name/bank-card", { token, body: {
      name, id_number: idNumber, card_number: $("card-number").value.replace(/\s/g, ""), mobile: $("mobile").value.trim() } })).challenge_id;
    renderForm();
    $("bank-code").focus();
    return null;
  }
  try {
    return await api("POST", `/v1/me/real-name/bank-card/${challenge}/confirm`, { token, body: { code: $("bank-code").value.trim() } });
  } catch (e) {
    if (e && ["bank_code_expired", "bank_code_attempts_exhausted", "bank_challenge_closed"].includes(e.code)) challenge = null;
    throw e;
  }
}

async function submit() {
  hide($("error"));
  const name = $("name").value.trim();
  const idNumber = checkIdNumber({ submitting: true });
  if (!validIdNumber(idNumber)) {
    $("id-number").focus(); // the field says what is wrong with it (its description)
    return;
  }
  $("submit").disabled = true;
  try {
    const done = method === "face" ? await submitFace(name, idNumber) : await submitCard(name, idNumber);
    if (!done) return; // the bank's code is awaited
    verified = done;
    if (done.method === "face") faceVerified = true;
    hide($("form"));
    renderDone();
    $("verified").focus();
  } catch (e) {
    show($("form"));
    renderForm();
    showError($("error"), e, { reveal: true });
    // A failed face check can always be replaced by the bank card, and the other way round (not
    // when a face is being added to a bank-card verification: that one is done).
    if (!verified) {
      $("error").append(el("button", { class: "secondary", type: "button", id: "other-method",
        onclick: () => choose(method === "face" ? "bank_card" : "face") }, t(method === "face" ? "rn.use_card" : "rn.use_face")));
    }
  } finally {
    $("submit").disabled = false;
  }
}

async function load() {
  const [records, noticeList, consents, me] = await Promise.all([
    api("GET", "/v1/me/real-name", { token }), api("GET", "/v1/consent-notices", { token }), api("GET", "/v1/me/consents", { token }),
    api("GET", "/v1/me", { token })]);
  notices = noticeList;
  consentGiven = Boolean(consents.granted[PURPOSE]);
  faceVerified = me.face_verified;
  const passed = records.filter((r) => r.outcome === "passed");
  verified = passed.find((r) => r.method === "face") || passed[0] || null;
  if (verified && !faceVerified && addFace) choose("face"); // sent here to add the face: straight to it
  else if (verified) renderDone();
  else if (addFace) choose("face");
  else show($("choose"));
}

header("/app/real-name", () => { renderForm(); renderDone(); });
if (token) {
  $("choose-face").addEventListener("click", () => choose("face"));
  $("choose-card").addEventListener("click", () => choose("bank_card"));
  $("switch-method").addEventListener("click", () => choose(method === "face" ? "bank_card" : "face"));
  $("submit").addEventListener("click", submit);
  $("id-number").addEventListener("input", checkIdNumber);
  load().catch((e) => showError($("error"), e));
}
