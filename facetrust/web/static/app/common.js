// What every page of the user app shares: the header, the signed-in user, and a live face check.
import { addStrings, api, el, languageSwitch, session, shortDay, t, table, tokenFromFragment, translate, yuan } from "../ft.js";
import { record } from "../camera.js";

addStrings({
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
});

// A repayment schedule as a table (id "schedule"): each period's date and how its payment splits.
export function scheduleTable(lines) {
  const node = table([
    ["sched.number", (r) => r.number], ["sched.due", (r) => shortDay(r.due_date)],
    ["sched.principal", (r) => yuan(r.principal_fen)], ["sched.interest", (r) => yuan(r.interest_fen)],
    ["sched.fee", (r) => yuan(r.fee_fen)], ["sched.payment", (r) => yuan(r.payment_fen)],
  ], lines);
  node.id = "schedule";
  return el("div", { class: "table-wrap" }, node);
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
// frames. Resolves to the passed session's id; a failed check throws with its first reason as code.
export async function liveCheck(box, token, purpose) {
  const challenge = await api("POST", "/v1/me/liveness-sessions", { token, body: { purpose } });
  const capture = await record(box, challenge);
  const decided = await api("POST", `/v1/me/liveness-sessions/${challenge.session_id}/capture`, { token, body: capture });
  if (decided.status !== "passed") {
    const error = new Error("liveness check failed");
    error.code = decided.outcome || "liveness_failed";
    throw error;
  }
  return challenge.session_id;
}
