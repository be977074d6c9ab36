// Sign in (with a token the platform's back end minted, or the demo tenant's), then the home page:
// the account, its real-name status, face pay, credit and wallet at a glance.
import { addStrings, api, day, el, session, showError, t, yuan } from "../ft.js";
import { frozenNotice, header, signOut, userToken } from "./common.js";
import { deviceNotice } from "./devicecard.js";

addStrings({
  "signin.title": { zh: "登录", en: "Sign in" },
  "signin.explain": { zh: "您的平台 App 会带着登录凭证打开本页。如果您有登录凭证，请粘贴在下面。",
    en: "Your platform's app opens this page signed in. If you were given a sign-in token, paste it below." },
  "signin.token": { zh: "登录凭证", en: "Sign-in token" },
  "signin.button": { zh: "登录", en: "Sign in" },
  "signin.demo_title": { zh: "演示", en: "Demo" },
  "signin.demo_explain": { zh: "演示平台会为您创建一个演示账户（不是真实平台）。", en: "The demo platform creates a demo account for you (not a real platform)." },
  "signin.demo_button": { zh: "用演示账户登录", en: "Sign in with a demo account" },
  "home.title": { zh: "我的账户", en: "My account" },
  "home.mobile": { zh: "手机号", en: "Mobile" },
  "home.status": { zh: "账户状态", en: "Account" },
  "home.real_name": { zh: "实名认证", en: "Real-name verification" },
  "home.verified_by": { zh: "已认证（{method}，{date}）", en: "Verified ({method}, {date})" },
  "home.not_verified": { zh: "未认证", en: "Not verified" },
  "home.verify_now": { zh: "去认证", en: "Verify now" },
  "home.face_pay": { zh: "刷脸支付", en: "Face pay" },
  "home.on": { zh: "已开通", en: "On" },
  "home.off": { zh: "未开通", en: "Off" },
  "home.manage": { zh: "管理", en: "Manage" },
  "home.wallet": { zh: "钱包余额", en: "Wallet balance" },
  "home.credit": { zh: "可用额度", en: "Credit available" },
  "home.borrow": { zh: "借款", en: "Borrow" },
  "home.no_credit": { zh: "暂无额度", en: "No credit line" },
  "home.next_payment": { zh: "下期还款", en: "Next payment" },
  "home.next_due": { zh: "¥{amount}，{date} 到期", en: "¥{amount} due {date}" },
  "home.see_all": { zh: "查看全部", en: "See all" },
  "home.demo_order": { zh: "演示商城：分期购买一部手机", en: "Demo shop: buy a phone on installments" },
  "home.export": { zh: "下载我的数据（JSON）", en: "Download my data (JSON)" },
  "home.export_explain": { zh: "我们保存的关于您的全部信息，以及谁在何时读取过您的人脸特征。不含人脸特征本身和完整身份证号。",
    en: "Everything we hold about you, and who read your face template and when. Never the template itself or your full ID number." },
  "method.face": { zh: "人脸", en: "face" },
  "method.bank_card": { zh: "银行卡", en: "bank card" },
  "status.active": { zh: "正常", en: "Active" },
  "status.frozen": { zh: "已冻结", en: "Frozen" },
  "status.closed": { zh: "已注销", en: "Closed" },
});

let state = null;

function fact(label, value, ...extra) {
  return [el("dt", {}, t(label)), el("dd", {}, value, ...extra)];
}

function renderHome() {
  if (!state) return;
  const { me, realName, facePay, wallet, credit } = state;
  const passed = realName.find((r) => r.outcome === "passed");
  const next = credit.plans.map((p) => p.next_payment).filter(Boolean)
    .sort((a, b) => a.due_date.localeCompare(b.due_date))[0];
  const frozen = me.status === "frozen";
  // Borrowing and the shop move money: a frozen account is not offered them, and is told why.
  const borrow = !credit.line ? null : frozen
    ? [" ", el("span", { class: "muted small", id: "borrow-frozen" }, t("fz.no_borrow"))]
    : [" ", el("a", { href: "/app/loan", id: "borrow" }, t("home.borrow"))];
  const home = document.getElementById("home");
  home.replaceChildren(...[ // the absent parts (null) left out: replaceChildren would write "null"
    el("h1", {}, t("home.title")),
    frozenNotice(me),
    deviceNotice(state.device), // a new device: money cannot leave from it until the person verifies it
    el("section", { class: "card" }, el("dl", { class: "facts" },
      fact("home.mobile", me.mobile_masked),
      fact("home.status", el("span", { class: `status ${me.status}`, id: "account-status" }, t(`status.${me.status}`))),
      fact("home.real_name", passed
        ? el("span", { class: "status ok", id: "real-name-status" }, t("home.verified_by", { method: t(`method.${passed.method}`), date: day(passed.created_at) }))
        : el("span", { id: "real-name-status" }, t("home.not_verified"), " ", el("a", { href: "/app/real-name" }, t("home.verify_now")))),
      fact("home.face_pay", el("span", { class: `status ${facePay.enabled ? "on" : ""}`, id: "face-pay-status" },
        t(facePay.enabled ? "home.on" : "home.off")), " ", el("a", { href: "/app/consents" }, t("home.manage"))),
      fact("home.wallet", "¥" + yuan(wallet.balance_fen)),
      fact("home.credit", credit.line ? "¥" + yuan(credit.line.available_fen) : t("home.no_credit"), borrow),
      fact("home.next_payment", next ? t("home.next_due", { amount: yuan(next.amount_fen), date: day(next.due_date) }) : t("common.none"),
        " ", el("a", { href: "/app/history" }, t("home.see_all"))),
    )),
    state.demo ? el("button", { class: "block", type: "button", id: "demo-order", onclick: demoOrder, disabled: frozen,
      "aria-describedby": frozen ? "shop-frozen" : null }, t("home.demo_order")) : null,
    state.demo && frozen ? el("p", { class: "muted small", id: "shop-frozen" }, t("fz.no_shop")) : null,
    el("div", { id: "home-error", hidden: true }),
    el("button", { class: "secondary block", type: "button", id: "export", onclick: downloadExport }, t("home.export")),
    el("p", { class: "muted small" }, t("home.export_explain")),
    el("button", { class: "secondary block", type: "button", onclick: signOut }, t("common.sign_out")),
  ].filter(Boolean));
  home.hidden = false;
}

async function loadHome(token) {
  const get = (path) => api("GET", path, { token });
  const [me, realName, facePay, wallet, credit] = await Promise.all(
    [get("/v1/me"), get("/v1/me/real-name"), get("/v1/me/face-pay"), get("/v1/me/wallet"), get("/v1/me/credit")]);
  const demo = await api("GET", "/v1/demo").then(() => true, () => false);
  const device = await get("/v1/me/device").catch(() => null);
  state = { me, realName, facePay, wallet, credit, demo, device };
  renderHome();
}

// The demo shop offers an order on installments; the checkout page takes it from there.
async function demoOrder() {
  try {
    const offered = await api("POST", "/v1/demo/checkouts", { token: session.get("user") });
    location.assign(`/app/checkout#${offered.checkout_id}`);
  } catch (e) {
    showError(document.getElementById("home-error"), e);
  }
}

// The person's copy of their data (GET /v1/me/export), saved as a file.
async function downloadExport() {
  try {
    const data = await api("GET", "/v1/me/export", { token: session.get("user") });
    const link = el("a", { href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" })),
      download: `facetrust-my-data-${data.generated_at.slice(0, 10)}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (e) {
    showError(document.getElementById("home-error"), e);
  }
}

async function signIn(token) {
  const box = document.getElementById("signin-error");
  try {
    await api("GET", "/v1/me", { token });
  } catch (e) {
    showError(box, e);
    return;
  }
  session.set("user", token);
  document.getElementById("signin").hidden = true;
  await loadHome(token);
}

async function showSignIn() {
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-button").addEventListener("click", () =>
    signIn(document.getElementById("token").value.trim()));
  try {
    await api("GET", "/v1/demo");
    document.getElementById("demo").hidden = false;
    document.getElementById("demo-button").addEventListener("click", async () => {
      try {
        const minted = await api("POST", "/v1/demo/sign-in", { body: {} });
        await signIn(minted.token);
      } catch (e) {
        showError(document.getElementById("signin-error"), e);
      }
    });
  } catch { /* no demo tenant on this service */ }
}

header("/app/", renderHome);
const token = userToken(null);
if (token) {
  loadHome(token).catch((e) => {
    session.clear("user");
    showSignIn();
    showError(document.getElementById("signin-error"), e);
  });
} else {
  showSignIn();
}
