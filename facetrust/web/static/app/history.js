// Everything the person has with us in one place: installment plans and loans with their next
// payments, goods returned to the merchant, face-pay payments, and every real-name authentication
// and consent change.
import { addStrings, api, confirmDialog, el, percent, shortDay, showError, t, table, tableBox, when, yuan } from "../ft.js";
import { askToDispute, header, userToken } from "./common.js";

addStrings({
  "hi.title": { zh: "账单与记录", en: "Plans and history" },
  "hi.plans": { zh: "分期与借款", en: "Installment plans and loans" },
  "hi.next": { zh: "近期还款", en: "Next payments" },
  "hi.payments": { zh: "刷脸支付记录", en: "Face-pay payments" },
  "hi.returns": { zh: "分期退货", en: "Returns of installment purchases" },
  "hi.col.returned": { zh: "退货金额", en: "Returned" },
  "hi.col.cancelled": { zh: "免还本金", en: "Principal cancelled" },
  "hi.col.dispute": { zh: "有疑问？", en: "Not you?" },
  "hi.col.to_wallet": { zh: "退回钱包", en: "Back to your wallet" },
  "ret.full": { zh: "全部退货", en: "Full return" },
  "ret.partial": { zh: "部分退货", en: "Partial return" },
  "hi.auth": { zh: "实名认证记录", en: "Real-name authentications" },
  "hi.consent": { zh: "授权与刷脸支付开关记录", en: "Consent and face-pay switch history" },
  "hi.col.kind": { zh: "类型", en: "Type" },
  "hi.col.principal": { zh: "本金", en: "Principal" },
  "hi.col.periods": { zh: "期数", en: "Months" },
  "hi.col.apr": { zh: "年化利率", en: "APR" },
  "hi.col.status": { zh: "状态", en: "Status" },
  "hi.col.outstanding": { zh: "剩余本金", en: "Outstanding" },
  "hi.col.due": { zh: "到期日", en: "Due" },
  "hi.col.amount": { zh: "金额", en: "Amount" },
  "hi.col.merchant": { zh: "商户", en: "Shop" },
  "hi.col.when": { zh: "时间", en: "When" },
  "hi.col.method": { zh: "方式", en: "Method" },
  "hi.col.outcome": { zh: "结果", en: "Outcome" },
  "hi.col.purpose": { zh: "用途", en: "Purpose" },
  "hi.col.action": { zh: "操作", en: "Action" },
  "hi.col.plan": { zh: "计划", en: "Plan" },
  "hi.repay": { zh: "还款", en: "Repay" },
  "hi.repay_title": { zh: "确认还款", en: "Confirm the repayment" },
  "hi.repay_amount": { zh: "还款金额", en: "Amount" },
  "hi.repay_from": { zh: "付款来源", en: "Paid from" },
  "hi.repay_wallet": { zh: "钱包（余额 ¥{balance}）", en: "Your wallet (balance ¥{balance})" },
  "hi.repay_for": { zh: "还款对象", en: "For" },
  "hi.repay_installment": { zh: "{plan}第 {number} 期，{date} 到期", en: "{plan}, payment {number}, due {date}" },
  "hi.repay_what": { zh: "确认后，¥{amount} 将立即从您的钱包转出，用于偿还这一期。还款完成后不能撤销。",
    en: "When you confirm, ¥{amount} leaves your wallet at once and pays this installment. A repayment cannot be undone." },
  "hi.repay_short": { zh: "钱包余额不足 ¥{amount}，请先充值，还款不会成功。", en: "Your wallet has less than ¥{amount}: top it up first, or the repayment will not go through." },
  "hi.repay_yes": { zh: "确认还款 ¥{amount}", en: "Repay ¥{amount}" },
  "hi.repay_no": { zh: "暂不还款", en: "Not now" },
  "hi.repaid": { zh: "已还款 ¥{amount}，钱包余额 ¥{balance}。", en: "Repaid ¥{amount}; your wallet has ¥{balance}." },
  "kind.installment": { zh: "分期", en: "Installment" },
  "kind.loan": { zh: "借款", en: "Loan" },
  "method.face": { zh: "人脸", en: "Face" },
  "method.bank_card": { zh: "银行卡", en: "Bank card" },
  "outcome.passed": { zh: "通过", en: "Passed" },
  "outcome.failed": { zh: "未通过", en: "Failed" },
  "action.grant": { zh: "同意", en: "Given" },
  "action.withdraw": { zh: "撤回", en: "Withdrawn" },
  "purpose.kyc_face_verification": { zh: "人脸实名认证", en: "Face real-name verification" },
  "purpose.face_pay": { zh: "刷脸支付", en: "Face pay" },
  "purpose.credit_face_verification": { zh: "分期与借款人脸确认", en: "Face confirmation for credit" },
  "st.active": { zh: "还款中", en: "Repaying" },
  "st.paid_off": { zh: "已结清", en: "Paid off" },
  "st.overdue": { zh: "已逾期", en: "Overdue" },
  "st.due": { zh: "待还", en: "Due" },
  "st.upcoming": { zh: "未到期", en: "Upcoming" },
  "st.paid": { zh: "已支付", en: "Paid" },
  "st.declined": { zh: "未完成", en: "Not completed" },
  "st.refunded": { zh: "已退款", en: "Refunded" },
  "st.settled_early": { zh: "已提前结清", en: "Settled early" },
  "st.returned": { zh: "已退货", en: "Returned" },
  "st.cancelled": { zh: "已取消", en: "Cancelled" },
});

const token = userToken(document.getElementById("main"));
let data = null;
let message = null;

const money = (fen) => "¥" + yuan(fen);
const status = (s) => el("span", { class: `status ${s}` }, t(`st.${s}`));

function render() {
  if (!data) return;
  const { credit, wallet, realName, consents } = data;
  const next = credit.plans.filter((p) => p.next_payment).map((p) => ({ plan: p, ...p.next_payment }))
    .sort((a, b) => a.due_date.localeCompare(b.due_date));
  const returns = credit.plans.flatMap((p) => (p.returns || []).map((r) => ({ plan: p, ...r })))
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  const section = (id, titleKey, body) => el("section", { class: "card", id }, el("h2", {}, t(titleKey)),
    tableBox(t(titleKey), body));
  document.getElementById("content").replaceChildren(
    message ? el("div", { class: "notice ok", id: "repaid", role: "status" }, t(message.key, message.vars)) : "",
    section("next-payments", "hi.next", table([
      ["hi.col.due", (r) => shortDay(r.due_date)], ["hi.col.plan", (r) => t(`kind.${r.plan.kind}`)],
      ["hi.col.amount", (r) => money(r.amount_fen)], ["hi.col.status", (r) => status(r.status)],
      ["hi.repay", (r) => el("button", { class: "secondary", type: "button", dataset: { plan: r.plan.plan_id },
        onclick: (event) => repay(event.target, r.plan) }, t("hi.repay"))],
    ], next)),
    section("plans", "hi.plans", table([
      ["hi.col.kind", (p) => t(`kind.${p.kind}`)], ["hi.col.principal", (p) => money(p.principal_fen)],
      ["hi.col.periods", (p) => p.periods], ["hi.col.apr", (p) => percent(p.apr)],
      ["hi.col.outstanding", (p) => money(p.outstanding_principal_fen)], ["hi.col.status", (p) => status(p.status)],
    ], credit.plans)),
    section("returns", "hi.returns", table([
      ["hi.col.when", (r) => when(r.created_at)], ["hi.col.kind", (r) => t(r.full ? "ret.full" : "ret.partial")],
      ["hi.col.returned", (r) => money(r.amount_fen)], ["hi.col.cancelled", (r) => money(r.principal_cancelled_fen)],
      ["hi.col.to_wallet", (r) => money(r.wallet_fen)],
    ], returns)),
    section("payments", "hi.payments", table([
      ["hi.col.when", (p) => when(p.decided_at)], ["hi.col.merchant", (p) => p.merchant_name],
      ["hi.col.amount", (p) => money(p.amount_fen)], ["hi.col.status", (p) => status(p.status)],
      ["hi.col.dispute", (p) => (p.status !== "paid" ? "" : p.disputed ? el("span", { class: "small muted" }, t("fp.disputed"))
        : el("button", { class: "secondary", type: "button", onclick: () => dispute(p.intent_id) }, t("fp.dispute")))],
    ], wallet.payments)),
    section("authentications", "hi.auth", table([
      ["hi.col.when", (r) => when(r.created_at)], ["hi.col.method", (r) => t(`method.${r.method}`)],
      ["hi.col.outcome", (r) => el("span", { class: `status ${r.outcome}` }, t(`outcome.${r.outcome}`))],
    ], realName)),
    section("consent-history", "hi.consent", table([
      ["hi.col.when", (c) => when(c.at)], ["hi.col.purpose", (c) => t(`purpose.${c.purpose}`)],
      ["hi.col.action", (c) => t(`action.${c.action}`)],
    ], [...consents.history].reverse())),
  );
}

// Repay a plan's next installment from the wallet, after the person confirms in the page what
// leaves the wallet, from where and for what (one idempotency key per confirmation: a double tap
// pays once).
async function repay(button, plan) {
  const box = document.getElementById("error");
  const next = plan.next_payment;
  const amount = yuan(next.amount_fen);
  const balance = data.wallet.balance_fen;
  const agreed = await confirmDialog({
    title: t("hi.repay_title"),
    facts: [[t("hi.repay_amount"), money(next.amount_fen)],
      [t("hi.repay_from"), t("hi.repay_wallet", { balance: yuan(balance) })],
      [t("hi.repay_for"), t("hi.repay_installment", { plan: t(`kind.${plan.kind}`), number: next.number, date: shortDay(next.due_date) })]],
    text: [t("hi.repay_what", { amount }), balance < next.amount_fen ? t("hi.repay_short", { amount }) : null],
    confirm: t("hi.repay_yes", { amount }), cancel: t("hi.repay_no"),
  });
  if (!agreed) return;
  button.disabled = true;
  box.hidden = true;
  try {
    const made = await api("POST", `/v1/me/credit/plans/${plan.plan_id}/repayments`, { token,
      body: { kind: "installment", idempotency_key: "repay-" + crypto.randomUUID() } });
    message = { key: "hi.repaid", vars: { amount: yuan(made.repayment.amount_fen), balance: yuan(made.wallet_balance_fen) } };
    await load();
  } catch (e) {
    button.disabled = false;
    showError(box, e);
  }
}

async function dispute(intentId) {
  if (!(await askToDispute())) return;
  try {
    await api("POST", `/v1/me/face-pay/payments/${intentId}/dispute`, { token });
    await load();
  } catch (e) {
    showError(document.getElementById("error"), e);
  }
}

async function load() {
  const get = (path) => api("GET", path, { token });
  const [credit, wallet, realName, consents] = await Promise.all(
    [get("/v1/me/credit"), get("/v1/me/wallet"), get("/v1/me/real-name"), get("/v1/me/consents")]);
  data = { credit, wallet, realName, consents };
  render();
}

header("/app/history", render);
if (token) load().catch((e) => showError(document.getElementById("error"), e));
