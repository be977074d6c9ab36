// The platform's capture page, shown on the vending machine's screen after the terminal hands the
// payer over. It is the platform's page, not the merchant's: the frames go from here straight to
// the platform, and the payer's result and the reason for a decline are shown only here.
//
// The address is "/pay/capture#<token>&back=<url-encoded /terminal/... path>": the token is the
// fragment of the payment's capture_url; the terminal appends where to send the screen back.
// Only a same-origin path under /terminal/ is accepted as "back", so the link cannot be used to
// send the payer anywhere else, and nothing about the payer is added to it.
import { addStrings, api, el, hide, lang, languageSwitch, setErrorPage, show, showError, t, translate, yuan } from "../ft.js";
import { record } from "../camera.js";

const PAID_BACK_SECONDS = 5; // long enough to see it worked
const NOT_PAID_BACK_SECONDS = 12; // long enough to read why and what to do
const NO_RETRY = new Set(["capture_session_not_found", "intent_not_found", "face_attempts_locked"]);

addStrings({
  "pay.brand": { zh: "FaceTrust 刷脸付款", en: "FaceTrust face pay" },
  "pay.merchant": { zh: "收款方：{name}", en: "Paying {name}" },
  "pay.face_title": { zh: "请看着摄像头完成付款", en: "Look at the camera to pay" },
  "pay.face_help": { zh: "点击开始后，请正对摄像头保持几秒。", en: "Tap start, then face the camera for a few seconds." },
  "pay.face_help_auto": { zh: "请正对摄像头保持几秒。", en: "Face the camera for a few seconds." },
  "pay.step_up_title": { zh: "请再确认一次", en: "One more check" },
  "pay.step_up_help": { zh: "这笔付款需要额外确认：点击开始后，请按顺序完成以下动作。",
    en: "This payment needs an extra check: tap start, then do these in order." },
  "pay.start": { zh: "开始刷脸", en: "Start" },
  "pay.privacy": { zh: "画面只发送给平台用于本次付款；售货机不会收到您的人脸或身份信息。",
    en: "The pictures go only to the platform, for this payment. The machine never receives your face or who you are." },
  "pay.digits_title": { zh: "请输入手机号后四位", en: "Enter the last 4 digits of your mobile number" },
  "pay.digits_help": { zh: "用于确认是您本人付款。", en: "This confirms that it is you who pays." },
  "pay.digits_ok": { zh: "确认", en: "OK" },
  "pay.digits_back": { zh: "删除", en: "Delete" },
  "pay.digits_entered": { zh: "已输入 {count} 位", en: "{count} of 4 digits entered" },
  "pay.sending": { zh: "正在确认…", en: "Confirming…" },
  "pay.paid": { zh: "支付成功", en: "Payment successful" },
  "pay.payer": { zh: "付款人：{name}", en: "Paid by {name}" },
  "pay.not_paid": { zh: "付款未完成", en: "Payment not completed" },
  "pay.leave": { zh: "您可以离开此页面了。", en: "You can leave this page now." },
  "pay.back": { zh: "返回售货机", en: "Back to the machine" },
  "pay.back_in": { zh: "返回售货机（{seconds} 秒）", en: "Back to the machine ({seconds} s)" },
});

const $ = (id) => document.getElementById(id);
setErrorPage("kiosk"); // a shopper at a vending machine: no browser settings to change, staff to ask
const { token, back } = readFragment();

let view = null; // the last CaptureView from the platform
let busy = false; // the camera is recording or an answer is on its way
let digits = ""; // the phone digits typed so far: kept only until sent
let lastError = null; // shown again in the other language on a switch
let countdown = null; // {left, timer}: the automatic return to the machine
// The shopper already chose "pay with face" at the machine: the quick capture starts by itself
// (one tap pays). Once only: after a failure the start button is theirs to press.
let autoStart = true;

function readFragment() {
  const [first = "", ...rest] = location.hash.slice(1).split("&");
  const params = new URLSearchParams(rest.join("&"));
  let found = first;
  if (first.includes("=")) { // also "#token=...&back=..."
    const all = new URLSearchParams(location.hash.slice(1));
    found = all.get("token") || "";
    params.set("back", all.get("back") || "");
  }
  return { token: decodeURIComponent(found), back: safeBack(params.get("back")) };
}

// A path on this site under /terminal/, or nothing: never "https://elsewhere", "//elsewhere" or
// "/terminal/../app/", which would make this page a way to send the payer anywhere.
function safeBack(value) {
  if (!value || !value.startsWith("/terminal/")) return null;
  let url;
  try { url = new URL(value, location.origin); } catch { return null; }
  if (url.origin !== location.origin || !url.pathname.startsWith("/terminal/")) return null;
  return url.pathname + url.search + url.hash;
}

const capturePath = (suffix = "") => `/v1/capture/${encodeURIComponent(token)}${suffix}`;

// --- the steps ----------------------------------------------------------------------------------

async function load() {
  hide($("error"));
  hide($("retry"));
  lastError = null;
  if (!token) return fail({ code: "capture_session_not_found" });
  try {
    view = await api("GET", capturePath());
  } catch (err) {
    return fail(err);
  }
  render();
}

function render() {
  $("merchant").textContent = t("pay.merchant", { name: view.merchant_name });
  $("amount").textContent = t("common.yuan", { amount: yuan(view.amount_fen) });
  show($("order"));
  $("stage").dataset.status = view.status;
  $("stage").dataset.step = view.step || "";
  if (view.status === "paid") return renderPaid();
  // The reason comes only with the answer to this page's own frames or digits; read again by the
  // token (a reload), a declined payment says only that it was not completed.
  if (view.status === "declined") return renderNotPaid(view.decline_reason || "payment_not_completed");
  if (view.status === "expired") return renderNotPaid("expired");
  if (view.step === "phone_digits") return renderDigits();
  return renderFace();
}

// The quick check (one action, or just a look) or, for a step-up, the challenge's actions in order.
// Coming from the machine, the quick check starts at once; a step-up waits for the payer to read
// its actions and press start.
function renderFace() {
  const actions = (view.challenge && view.challenge.actions) || [];
  const active = view.step === "step_up";
  const auto = autoStart && Boolean(back) && !active && Boolean(view.challenge);
  const cameraBox = el("div", { id: "camera-box", hidden: true });
  const startButton = el("button", { id: "start", type: "button", class: "block pay-face", onclick: () => capture(cameraBox, startButton) },
    t("pay.start"));
  $("stage").replaceChildren(...[
    el("h1", {}, t(active ? "pay.step_up_title" : "pay.face_title")),
    el("p", { class: "muted", id: "face-help" }, t(active ? "pay.step_up_help" : auto ? "pay.face_help_auto" : "pay.face_help")),
    actions.length > 0 && el("ol", { class: "actions-list", id: "actions-list" },
      view.challenge.instructions.map((text) => el("li", {}, text[lang] || text.en))),
    cameraBox,
    startButton,
    el("p", { class: "muted small" }, t("pay.privacy")),
  ].filter(Boolean)); // replaceChildren would show a null as the text "null"
  backButton();
  if (auto) {
    autoStart = false;
    capture(cameraBox, startButton);
  }
}

// The "tap start" hint and the action list say what to do before the capture; during it the
// camera's own prompt says what to do now, so they step aside (and come back if it fails).
function hints(visible) {
  for (const id of ["face-help", "actions-list"]) if ($(id)) $(id).hidden = !visible;
}

async function capture(cameraBox, startButton) {
  if (busy) return;
  if (!view.challenge) return fail({ code: "capture_not_expected" });
  busy = true;
  autoStart = false;
  hide(startButton);
  hints(false);
  hide($("error"));
  hide($("retry"));
  lastError = null;
  let body;
  try {
    body = await record(cameraBox, view.challenge);
  } catch (err) { // camera_denied, camera_missing, camera_busy
    busy = false;
    hide(cameraBox);
    hints(true);
    return fail(err);
  }
  try {
    view = await api("POST", capturePath("/frames"), { body });
  } catch (err) {
    busy = false;
    hide(cameraBox);
    hints(true);
    return fail(err);
  }
  busy = false;
  render();
}

// The last four digits of the payer's mobile, masked as dots, on a keypad (and the keyboard).
function renderDigits() {
  digits = "";
  const dots = el("div", { class: "digits", id: "digits", role: "status" },
    [0, 1, 2, 3].map(() => el("span", {})));
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "back", "0", "ok"];
  const pad = el("div", { class: "keypad", id: "digit-pad" }, keys.map((key) => el("button", {
    type: "button", dataset: { key }, class: key === "ok" ? "primary" : null,
    "aria-label": key === "back" ? t("pay.digits_back") : key === "ok" ? t("pay.digits_ok") : key,
    onclick: () => pressDigit(key),
  }, key === "back" ? "⌫" : key === "ok" ? t("pay.digits_ok") : key)));
  $("stage").replaceChildren(el("h1", {}, t("pay.digits_title")), el("p", { class: "muted" }, t("pay.digits_help")), dots, pad);
  updateDigits();
  backButton();
}

function updateDigits() {
  const dots = $("digits");
  if (!dots) return;
  [...dots.children].forEach((dot, i) => { dot.className = i < digits.length ? "filled" : ""; });
  dots.setAttribute("aria-label", t("pay.digits_entered", { count: digits.length }));
  const ok = document.querySelector('#digit-pad [data-key="ok"]');
  ok.disabled = busy || digits.length !== 4;
  ok.textContent = busy ? t("pay.sending") : t("pay.digits_ok");
}

function pressDigit(key) {
  if (busy) return;
  if (key === "back") digits = digits.slice(0, -1);
  else if (key === "ok") return sendDigits();
  else if (digits.length < 4) digits += key;
  hide($("error"));
  updateDigits();
}

async function sendDigits() {
  if (busy || digits.length !== 4) return;
  busy = true;
  updateDigits();
  const sent = digits;
  digits = "";
  try {
    view = await api("POST", capturePath("/phone-digits"), { body: { digits: sent } });
  } catch (err) {
    busy = false;
    updateDigits();
    return fail(err);
  }
  busy = false;
  render();
}

function renderPaid() {
  $("stage").replaceChildren(
    el("div", { class: "result" },
      el("div", { class: "mark ok", "aria-hidden": "true" }, "✓"),
      el("h1", { id: "outcome" }, t("pay.paid")),
      view.payer_name_masked ? el("p", {}, t("pay.payer", { name: view.payer_name_masked })) : null,
      back ? null : el("p", { class: "muted" }, t("pay.leave"))),
  );
  autoBack(PAID_BACK_SECONDS);
}

// Declined or expired: what happened and what to do, in the payer's language. No retry here: the
// payment is decided, and a new one starts at the machine.
function renderNotPaid(reason) {
  $("stage").replaceChildren(
    el("div", { class: "result" },
      el("div", { class: "mark bad", "aria-hidden": "true" }, "✕"),
      el("h1", { id: "outcome" }, t("pay.not_paid")),
      back ? null : el("p", { class: "muted" }, t("pay.leave"))),
  );
  showError($("error"), { code: reason }, { reveal: true });
  autoBack(NOT_PAID_BACK_SECONDS);
}

// An error while the payment may still be open: say what happened and what to do, and offer to
// try again (which re-reads the payment: it may have a fresh challenge, or be decided by now).
function fail(err) {
  lastError = err;
  showError($("error"), err, { reveal: true });
  $("retry").hidden = NO_RETRY.has(err.code);
  backButton();
}

// --- back to the machine ------------------------------------------------------------------------

function backButton() {
  const button = $("back");
  if (!back) return hide(button);
  button.textContent = countdown ? t("pay.back_in", { seconds: countdown.left }) : t("pay.back");
  show(button);
}

function autoBack(seconds) {
  if (!back) return hide($("back"));
  if (!countdown) {
    countdown = { left: seconds, timer: setInterval(() => {
      countdown.left -= 1;
      if (countdown.left <= 0) goBack();
      else backButton();
    }, 1000) };
  }
  backButton();
}

// replace(): the capture page, with its token, does not stay in the machine's history.
function goBack() {
  if (countdown) clearInterval(countdown.timer);
  if (back) location.replace(back);
}

function rerender() {
  if (busy) return; // the recording's own prompts carry on; the page redraws when it is done
  if (view) render();
  else backButton();
  if (lastError) fail(lastError);
}

document.addEventListener("keydown", (event) => {
  if (!$("digits")) return;
  if (/^[0-9]$/.test(event.key)) pressDigit(event.key);
  else if (event.key === "Backspace") pressDigit("back");
  else if (event.key === "Enter") pressDigit("ok");
});
$("retry").addEventListener("click", load);
$("back").addEventListener("click", goBack);

translate();
languageSwitch(rerender);
load();
