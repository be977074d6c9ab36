// Verifying a new device: a live face check compared with the real-name face, or, when that cannot
// prove the person (no face on file, a mismatch, a lockout), a review by a person. Also the
// messages for this device, such as "another device was bound to your account".
import { addStrings, api, el, hide, show, showError, t } from "../ft.js";
import { working } from "../camera.js";
import { header, liveCheck, userToken } from "./common.js";
import { deviceNotice, when } from "./devicecard.js";

addStrings({
  "dev.title": { zh: "验证新设备", en: "Verify this device" },
  "dev.explain": { zh: "请本人面对摄像头完成动作，我们会与您实名认证时的人脸比对。", en: "Do a short check in front of the camera; we compare you with the face from your real-name verification." },
  "dev.face": { zh: "刷脸验证", en: "Verify with my face" },
  "dev.no_face": { zh: "您的实名认证没有人脸（银行卡认证），请申请人工审核。", en: "Your real-name verification has no face (bank card): ask for a review." },
  "dev.comparing": { zh: "正在比对…", en: "Comparing…" },
  "dev.bound": { zh: "这台设备已是您账户的设备。", en: "This device is your account's device." },
  "dev.unknown": { zh: "平台没有告诉我们您正在使用的设备，无需验证。", en: "The platform did not name this device; there is nothing to verify." },
  "dev.review_title": { zh: "无法刷脸验证？", en: "Can't verify with your face?" },
  "dev.review_explain": { zh: "申请人工审核，风控人员会联系您确认。", en: "Ask for a review; risk control will contact you to confirm." },
  "dev.review_note": { zh: "补充说明（可选）", en: "Anything we should know (optional)" },
  "dev.review_ask": { zh: "申请人工审核", en: "Ask for a review" },
  "dev.review_pending": { zh: "人工审核已提交，请等待结果。", en: "Your review was requested; please wait for the result." },
  "dev.review_denied": { zh: "人工审核未通过，这台设备仍不能用于付款或借款。", en: "The review was declined; this device still cannot start payments or loans." },
  "dev.messages": { zh: "消息", en: "Messages" },
  "dev.msg.device_rebound": { zh: "{at}：另一台设备已绑定到您的账户（方式：{method}）。如果不是您本人操作，请立即联系客服。",
    en: "{at}: another device was bound to your account ({method}). If this was not you, contact support now." },
  "dev.msg.device_review_denied": { zh: "{at}：这台设备的人工审核未通过。", en: "{at}: the review of this device was declined." },
});

const $ = (id) => document.getElementById(id);
const token = userToken($("main"));

function render(device, messages) {
  const notice = deviceNotice(device);
  const said = !device.device_known ? t("dev.unknown") : device.bound && !notice ? t("dev.bound") : null;
  $("status").replaceChildren(...[notice, said ? el("p", { id: "device-ok" }, said) : null].filter(Boolean));
  const unbound = device.device_known && !device.bound;
  const pending = device.review && device.review.status === "pending";
  $("verify").hidden = !unbound || pending;
  $("verify-face").hidden = !device.rebind_methods.includes("face");
  $("no-face").hidden = device.rebind_methods.includes("face");
  $("review").hidden = !unbound || pending;
  if (pending) $("status").append(el("p", { class: "notice", id: "review-pending" }, t("dev.review_pending")));
  if (unbound && device.review && device.review.status === "denied") $("status").append(el("p", { class: "notice error" }, t("dev.review_denied")));
  $("messages").hidden = messages.length === 0;
  $("message-list").replaceChildren(...messages.map((m) =>
    el("li", { class: "message" }, t(`dev.msg.${m.kind}`, { at: when(m.created_at), method: m.data.method || "" }))));
}

async function load() {
  const [device, messages] = await Promise.all([api("GET", "/v1/me/device", { token }), api("GET", "/v1/me/notifications", { token })]);
  render(device, messages);
}

async function verifyFace() {
  hide($("error"));
  hide($("verify"));
  show($("capture-card"));
  try {
    const sessionId = await liveCheck($("capture"), token, "device_rebind");
    working($("capture"), t("dev.comparing"));
    await api("POST", "/v1/me/device/rebind", { token, body: { method: "face", liveness_session_id: sessionId } });
  } catch (e) {
    showError($("error"), e, { reveal: true });
  } finally {
    hide($("capture-card"));
  }
  await load();
}

async function askReview() {
  hide($("error"));
  try {
    await api("POST", "/v1/me/device/rebind/review", { token, body: { note: $("review-note").value.trim() || null } });
  } catch (e) {
    showError($("error"), e, { reveal: true });
  }
  await load();
}

header("/app/device", () => load().catch(() => {}));
if (token) {
  $("verify-face").addEventListener("click", verifyFace);
  $("ask-review").addEventListener("click", askReview);
  load().catch((e) => showError($("error"), e));
}
