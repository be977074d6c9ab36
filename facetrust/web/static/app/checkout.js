// Installment checkout: the order a shop offered, each plan with its annualised rate, the full
// schedule before confirming, and a live face check of the account holder to confirm.
import { addStrings, api, day, el, hide, lang, percent, setErrorPage, show, showError, t, yuan } from "../ft.js";
import { working } from "../camera.js";
import { consentFor, faceFirstNotice, grant, header, liveCheck, scheduleTable, showFrozen, userToken, verifiedByCard } from "./common.js";

addStrings({
  "co.title": { zh: "分期付款", en: "Pay in installments" },
  "co.no_order": { zh: "没有要确认的订单。请从商城结算页打开本页。", en: "There is no order to confirm. Open this page from the shop's checkout." },
  "co.merchant": { zh: "商户", en: "Shop" },
  "co.order": { zh: "订单", en: "Order" },
  "co.amount": { zh: "金额", en: "Amount" },
  "co.expires": { zh: "有效期至", en: "Valid until" },
  "co.choose": { zh: "选择分期方案", en: "Choose a plan" },
  "co.plan": { zh: "方案", en: "Plan" },
  "co.offer": { zh: "{periods} 期 · 首期 ¥{first}", en: "{periods} months · first ¥{first}" },
  "co.product": { zh: "产品", en: "Product" },
  "co.apr": { zh: "年化利率（APR）", en: "Annualised rate (APR)" },
  "co.total_cost": { zh: "利息和手续费合计", en: "Total interest and fees" },
  "co.total_payment": { zh: "还款总额", en: "Total to repay" },
  "co.schedule": { zh: "还款计划", en: "Repayment schedule" },
  "co.face_note": { zh: "确认前需要账户本人进行人脸检测。", en: "The account holder's live face check confirms the purchase." },
  "co.confirm": { zh: "刷脸确认分期", en: "Confirm with my face" },
  "co.agree_confirm": { zh: "同意并刷脸确认分期", en: "Agree and confirm with my face" },
  "co.notice": { zh: "人脸确认说明", en: "Face confirmation" },
  "co.confirming": { zh: "正在确认…", en: "Confirming…" },
  "co.done": { zh: "分期已确认", en: "Installment plan confirmed" },
  "co.done_detail": { zh: "{periods} 期，首期 ¥{first} 于 {date} 到期。", en: "{periods} months; the first ¥{first} is due {date}." },
  "co.see_plans": { zh: "查看我的分期", en: "See my plans" },
  "co.already": { zh: "这个订单已经确认。", en: "This order is already confirmed." },
  "co.expired": { zh: "这个订单已过期，请回到商城重新下单。", en: "This order has expired; go back to the shop and order again." },
});

const PURPOSE = "credit_face_verification";
setErrorPage("checkout");
const $ = (id) => document.getElementById(id);
const token = userToken($("main"));
const checkoutId = location.hash.slice(1);
let checkout = null;
let quote = null;
let plan = null;
let consent = null;

function money(fen) { return "¥" + yuan(fen); }

function renderOrder() {
  if (!checkout) return;
  $("order").replaceChildren(el("section", { class: "card" }, el("dl", { class: "facts" },
    el("dt", {}, t("co.merchant")), el("dd", {}, checkout.merchant_name),
    el("dt", {}, t("co.order")), el("dd", {}, checkout.description || checkout.merchant_order_id),
    el("dt", {}, t("co.amount")), el("dd", { class: "big" }, money(checkout.amount_fen)),
    el("dt", {}, t("co.expires")), el("dd", {}, day(checkout.expires_at)))));
  const select = $("offer");
  const chosen = select.value;
  // Grouped by product, so each option is short enough for a phone's dropdown to show its first
  // payment in full: "3 期 · 首期 ¥1,356.99" under its product's name.
  const groups = new Map();
  checkout.offers.forEach((o, i) => {
    const name = productName(o);
    if (!groups.has(name)) groups.set(name, el("optgroup", { label: name }));
    groups.get(name).append(el("option", { value: String(i) },
      t("co.offer", { periods: o.periods, first: yuan(o.first_payment_fen) })));
  });
  select.replaceChildren(...groups.values());
  if (chosen) select.value = chosen;
  $("consent").hidden = consent.granted || !me.face_verified;
  $("notice-text").textContent = consent.notice[lang];
  $("confirm").textContent = t(consent.granted ? "co.confirm" : "co.agree_confirm");
  // Installments compare the face with the real-name one: without it, say so before any capture,
  // and offer the face check (which comes back here), instead of a capture that cannot succeed.
  $("confirm").hidden = !me.face_verified;
  $("face-note").hidden = !me.face_verified;
  $("face-first-box").hidden = me.face_verified;
  if (!me.face_verified) $("face-first-box").replaceChildren(faceFirstNotice("installment", `/app/checkout#${checkoutId}`, byCard));
}

function productName(offer) { return lang === "zh" ? offer.product_name_zh : offer.product_name; }

function renderQuote() {
  if (!quote) return;
  const offer = checkout.offers[Number($("offer").value)];
  $("quote").replaceChildren(
    el("dl", { class: "facts", id: "quote-facts" },
      el("dt", {}, t("co.product")), el("dd", { id: "product-name" }, productName(offer)),
      el("dt", {}, t("co.apr")), el("dd", { class: "big", id: "apr" }, percent(quote.apr)),
      el("dt", {}, t("co.total_cost")), el("dd", { id: "total-cost" }, money(quote.total_cost_fen)),
      el("dt", {}, t("co.total_payment")), el("dd", {}, money(quote.total_payment_fen))),
    el("h2", {}, t("co.schedule")),
    scheduleTable(quote.schedule));
}

function renderDone() {
  if (!plan) return;
  const first = plan.installments[0];
  $("result").replaceChildren(el("section", { class: "notice ok", id: "confirmed" },
    el("strong", {}, t("co.done")),
    el("p", {}, t("co.done_detail", { periods: plan.periods, first: yuan(first.amount_fen), date: day(first.due_date) })),
    el("a", { class: "button", href: "/app/history" }, t("co.see_plans"))));
  show($("result"));
}

async function loadQuote() {
  const offer = checkout.offers[Number($("offer").value)];
  quote = await api("GET", `/v1/me/credit/checkouts/${checkoutId}/quote?product_id=${encodeURIComponent(offer.product_id)}&periods=${offer.periods}`, { token });
  renderQuote();
}

async function confirm() {
  hide($("error"));
  const offer = checkout.offers[Number($("offer").value)];
  $("confirm").disabled = true;
  try {
    if (!consent.granted) {
      await grant(token, consent.notice);
      consent.granted = true;
    }
    hide($("offers-card"));
    show($("capture-card"));
    const sessionId = await liveCheck($("capture"), token, "installment");
    working($("capture"), t("co.confirming"));
    plan = await api("POST", `/v1/me/credit/checkouts/${checkoutId}/confirm`, { token,
      body: { product_id: offer.product_id, periods: offer.periods, liveness_session_id: sessionId } });
    hide($("capture-card"));
    renderDone();
  } catch (e) {
    hide($("capture-card"));
    show($("offers-card"));
    showError($("error"), e, { reveal: true });
  } finally {
    $("confirm").disabled = false;
  }
}

let me = null;
let byCard = false;

// No shopping on installments while the account is frozen: say so and why, offer nothing.
const renderFrozen = () => showFrozen($("result"), me);

async function load() {
  if (!checkoutId) {
    $("order").replaceChildren(el("p", { class: "empty" }, t("co.no_order")));
    return;
  }
  [checkout, consent, me] = await Promise.all([api("GET", `/v1/me/credit/checkouts/${checkoutId}`, { token }),
    consentFor(token, PURPOSE), api("GET", "/v1/me", { token })]);
  if (!me.face_verified) byCard = await verifiedByCard(token);
  renderOrder();
  if (renderFrozen()) return;
  if (checkout.status === "open" && checkout.offers.length) {
    show($("offers-card"));
    await loadQuote();
  } else {
    $("result").replaceChildren(el("p", { class: "notice" }, t(checkout.plan_id ? "co.already" : "co.expired")));
    show($("result"));
  }
}

// A shop's checkout is not a tab of the app's header: no tab is marked on this page.
header(null, () => { renderOrder(); if (renderFrozen()) return; renderQuote(); renderDone(); });
// Another order opened in this tab (a new #<id>): load it afresh.
window.addEventListener("hashchange", () => { if (location.hash.slice(1) !== checkoutId) location.reload(); });
if (token) {
  $("offer").addEventListener("change", () => loadQuote().catch((e) => showError($("error"), e)));
  $("confirm").addEventListener("click", confirm);
  load().catch((e) => showError($("error"), e));
}
