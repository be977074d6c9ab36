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
  "ln.range": { zh: "您可借 ¥{min} 至 ¥{max}", en: "You can borrow ¥{min} to ¥{max}" },
  "ln.why.no_line": { zh: "还不能借款：您还没有借款额度。", en: "You cannot borrow yet: you have no credit line." },
  "ln.why.no_room": { zh: "还不能借款：您的可用额度 ¥{available} 低于这个产品的最低借款金额 ¥{min}。",
    en: "You cannot borrow yet: your available credit, ¥{available}, is less than this product's smallest loan, ¥{min}." },
  "ln.why.no_amount": { zh: "请先输入借款金额，就能看到利率和还款计划。", en: "Enter an amount to see the rate and the repayment schedule." },
  "ln.why.range": { zh: "借款金额需在 ¥{min} 至 ¥{max} 之间。", en: "The amount must be from ¥{min} to ¥{max}." },
  "ln.why.quoting": { zh: "正在计算利率和还款计划…", en: "Working out the rate and the repayment schedule…" },
  "ln.why.failed": { zh: "还没有报价：请看页面上方的提示。", en: "There is no quote yet: see the message at the top of the page." },
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
let quoting = false; // a quote for the amount typed is on its way (or waits for the typing to pause)
let typing = null; // the timer that asks for a quote once the person pauses typing
let asked = 0; // the latest quote asked for: an older answer arriving late is dropped
const QUOTE_DELAY_MS = 300;

const money = (fen) => "¥" + yuan(fen);
const product = () => products.find((p) => p.product_id === $("product").value);
const amountFen = () => Math.round(Number($("amount").value.replace(/[,\s]/g, "")) * 100);

// What THIS person can borrow with the chosen product: its own range, capped by the line available.
function limits() {
  const p = product();
  return { min: p.min_principal_fen, max: Math.min(p.max_principal_fen, credit.line ? credit.line.available_fen : 0) };
}

// Why the confirm button is disabled, in words (shown next to it); null when it is enabled.
function whyDisabled() {
  if (!credit.line) return t("ln.why.no_line");
  const { min, max } = limits();
  if (max < min) return t("ln.why.no_room", { available: yuan(credit.line.available_fen), min: yuan(min) });
  if (!$("amount").value.trim()) return t("ln.why.no_amount");
  const fen = amountFen();
  if (!(fen >= min && fen <= max)) return t("ln.why.range", { min: yuan(min), max: yuan(max) });
  if (quoting) return t("ln.why.quoting");
  if (!quote) return t("ln.why.failed");
  return null;
}

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
  const { min, max } = limits();
  const range = max >= min ? t("ln.range", { min: yuan(min), max: yuan(max) }) : "";
  $("amount").placeholder = range;
  $("range").textContent = range;
  $("range").hidden = !range;
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
  // While the button cannot be pressed, the reason is next to it (and is its description).
  const why = credit ? whyDisabled() : null;
  $("confirm").disabled = Boolean(why) || !quote;
  $("confirm-why").textContent = why || "";
  $("confirm-why").hidden = !why || $("confirm").hidden;
  if (why) $("confirm").setAttribute("aria-describedby", "confirm-why");
  else $("confirm").removeAttribute("aria-describedby");
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

// The quote follows the form: an amount outside what the person can borrow is said next to the
// button at once (no request); a valid one is quoted when the typing pauses (QUOTE_DELAY_MS).
function formChanged({ wait }) {
  clearTimeout(typing);
  hide($("error"));
  idempotencyKey = null;
  quote = null;
  asked += 1; // an answer still on its way is for an amount no longer there
  const fen = amountFen();
  const { min, max } = limits();
  quoting = fen >= min && fen <= max;
  renderQuote();
  if (quoting) typing = setTimeout(requote, wait ? QUOTE_DELAY_MS : 0);
}

async function requote() {
  const mine = ++asked;
  const fen = amountFen();
  try {
    const answer = await api("GET", `/v1/me/credit/loan-quote?product_id=${encodeURIComponent(product().product_id)}&amount_fen=${fen}&periods=${$("periods").value}`, { token });
    if (mine !== asked) return;
    quote = answer;
  } catch (e) {
    if (mine !== asked) return;
    showError($("error"), e);
  }
  quoting = false;
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
    renderQuote();
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
  renderQuote();
  show($("form"));
}

// Borrowing is not a tab of the app's header: no tab is marked on this page.
header(null, () => { if (renderFrozen()) return; renderForm(); renderQuote(); renderDone(); });
if (token) {
  for (const id of ["product", "periods"]) $(id).addEventListener("change", () => { renderForm(); formChanged({ wait: false }); });
  $("amount").addEventListener("input", () => formChanged({ wait: true }));
  $("confirm").addEventListener("click", confirm);
  load().catch((e) => showError($("error"), e));
}
