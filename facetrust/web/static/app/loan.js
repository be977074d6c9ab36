// A loan drawdown: product, amount and term, the annualised rate and the full schedule before
// confirming, and the account holder's live face check, which a loan always needs.
import { addStrings, api, el, hide, lang, percent, setErrorPage, shortDay, show, showError, t, yuan } from "../ft.js";
import { working } from "../camera.js";
import { consentFor, faceFirstNotice, grant, header, liveCheck, scheduleTable, showFrozen, userToken, verifiedByCard } from "./common.js";

addStrings({
  "ln.title": { zh: "借款", en: "Borrow" },
  "ln.available": { zh: "可用额度 ¥{amount}", en: "¥{amount} available" },
  "ln.no_line": { zh: "您还没有借款额度。", en: "You have no credit line yet." },
  "ln.product": { zh: "借款产品", en: "Product" },
  "ln.amount": { zh: "借款金额（元）", en: "Amount (yuan)" },
  "ln.periods": { zh: "期数（月）", en: "Months" },
  "ln.range": { zh: "可借 ¥{min} 至 ¥{max}", en: "From ¥{min} to ¥{max}" },
  "ln.apr": { zh: "年化利率（APR）", en: "Annualised rate (APR)" },
  "ln.total_cost": { zh: "利息合计", en: "Total interest" },
  "ln.total_payment": { zh: "还款总额", en: "Total to repay" },
  "ln.schedule": { zh: "还款计划", en: "Repayment schedule" },
  "ln.notice": { zh: "人脸确认说明", en: "Face confirmation" },
  "ln.face_note": { zh: "借款必须由账户本人进行人脸检测确认，此项不能关闭。", en: "A loan is always confirmed by the account holder's live face check; this cannot be switched off." },
  "ln.confirm": { zh: "刷脸确认借款", en: "Confirm with my face" },
  "ln.agree_confirm": { zh: "同意并刷脸确认借款", en: "Agree and confirm with my face" },
  "ln.confirming": { zh: "正在放款…", en: "Paying out…" },
  "ln.done": { zh: "借款已到账", en: "The loan is in your wallet" },
  "ln.done_detail": { zh: "¥{amount}，{periods} 期，首期 ¥{first} 于 {date} 到期。", en: "¥{amount} over {periods} months; the first ¥{first} is due {date}." },
  "ln.see_plans": { zh: "查看我的借款", en: "See my loans" },
});

const PURPOSE = "credit_face_verification";
setErrorPage("loan");
const $ = (id) => document.getElementById(id);
const token = userToken($("main"));
let products = [];
let credit = null;
let consent = null;
let quote = null;
let plan = null;
let idempotencyKey = null; // one per drawdown the person confirms: a double tap draws once

const money = (fen) => "¥" + yuan(fen);
const product = () => products.find((p) => p.product_id === $("product").value);
const amountFen = () => Math.round(Number($("amount").value.replace(/,/g, "")) * 100);

function renderForm() {
  if (!credit) return;
  $("available").textContent = credit.line ? t("ln.available", { amount: yuan(credit.line.available_fen) }) : t("ln.no_line");
  const chosen = $("product").value;
  $("product").replaceChildren(...products.map((p) => el("option", { value: p.product_id }, lang === "zh" ? p.name_zh : p.name)));
  if (chosen) $("product").value = chosen;
  const p = product();
  const months = $("periods").value;
  $("periods").replaceChildren(...p.periods.map((n) => el("option", { value: String(n) }, String(n))));
  if (months && p.periods.includes(Number(months))) $("periods").value = months;
  $("amount").placeholder = t("ln.range", { min: yuan(p.min_principal_fen), max: yuan(p.max_principal_fen) });
  $("consent").hidden = consent.granted || !me.face_verified;
  $("notice-text").textContent = consent.notice[lang];
  $("confirm").textContent = t(consent.granted ? "ln.confirm" : "ln.agree_confirm");
  // A loan compares the face with the real-name one: without it, say so before any capture and
  // offer the face check (which comes back here).
  $("confirm").hidden = !me.face_verified;
  $("face-note").hidden = !me.face_verified;
  $("face-first-box").hidden = me.face_verified;
  if (!me.face_verified) $("face-first-box").replaceChildren(faceFirstNotice("loan", "/app/loan", byCard));
}

function renderQuote() {
  $("confirm").disabled = !quote;
  if (!quote) { $("quote").replaceChildren(); return; }
  $("quote").replaceChildren(
    el("dl", { class: "facts" },
      el("dt", {}, t("ln.apr")), el("dd", { class: "big", id: "apr" }, percent(quote.apr)),
      el("dt", {}, t("ln.total_cost")), el("dd", {}, money(quote.total_cost_fen)),
      el("dt", {}, t("ln.total_payment")), el("dd", {}, money(quote.total_payment_fen))),
    el("h2", {}, t("ln.schedule")),
    scheduleTable(quote.schedule));
}

function renderDone() {
  if (!plan) return;
  const first = plan.installments[0];
  $("result").replaceChildren(el("section", { class: "notice ok", id: "drawn" },
    el("strong", {}, t("ln.done")),
    el("p", {}, t("ln.done_detail", { amount: yuan(plan.principal_fen), periods: plan.periods, first: yuan(first.amount_fen), date: shortDay(first.due_date) })),
    el("a", { class: "button", href: "/app/history" }, t("ln.see_plans"))));
  show($("result"));
}

async function requote() {
  hide($("error"));
  idempotencyKey = null;
  quote = null;
  const fen = amountFen();
  if (!(fen > 0)) { renderQuote(); return; }
  try {
    quote = await api("GET", `/v1/me/credit/loan-quote?product_id=${encodeURIComponent(product().product_id)}&amount_fen=${fen}&periods=${$("periods").value}`, { token });
  } catch (e) {
    showError($("error"), e);
  }
  renderQuote();
}

async function confirm() {
  hide($("error"));
  $("confirm").disabled = true;
  idempotencyKey = idempotencyKey || "loan-" + crypto.randomUUID();
  try {
    if (!consent.granted) {
      await grant(token, consent.notice);
      consent.granted = true;
    }
    hide($("form"));
    show($("capture-card"));
    const sessionId = await liveCheck($("capture"), token, "loan");
    working($("capture"), t("ln.confirming"));
    plan = await api("POST", "/v1/me/credit/loans", { token, body: {
      product_id: product().product_id, amount_fen: amountFen(), periods: Number($("periods").value),
      liveness_session_id: sessionId, idempotency_key: idempotencyKey } });
    hide($("capture-card"));
    renderDone();
  } catch (e) {
    hide($("capture-card"));
    show($("form"));
    renderForm();
    showError($("error"), e, { reveal: true });
  } finally {
    $("confirm").disabled = !quote;
  }
}

let me = null;
let byCard = false;

// A frozen account cannot borrow: the page says so, and why, instead of offering the form.
const renderFrozen = () => showFrozen($("result"), me);

async function load() {
  me = await api("GET", "/v1/me", { token });
  if (renderFrozen()) return;
  if (!me.face_verified) byCard = await verifiedByCard(token);
  const [all, mine, needed] = await Promise.all([api("GET", "/v1/me/credit/products", { token }),
    api("GET", "/v1/me/credit", { token }), consentFor(token, PURPOSE)]);
  products = all.filter((p) => p.kind === "loan");
  credit = mine;
  consent = needed;
  renderForm();
  show($("form"));
}

// Borrowing is not a tab of the app's header: no tab is marked on this page.
header(null, () => { if (renderFrozen()) return; renderForm(); renderQuote(); renderDone(); });
if (token) {
  for (const id of ["product", "periods"]) $(id).addEventListener("change", () => { renderForm(); requote(); });
  $("amount").addEventListener("change", requote);
  $("confirm").addEventListener("click", confirm);
  load().catch((e) => showError($("error"), e));
}
