// What every page of the operator console shares: the header, the operator's sign-in (a bearer
// token from `facetrust operators token`, kept in this tab's sessionStorage), API calls with it,
// and failures shown in the operator's language with what to do.
import { addStrings, api, el, languageSwitch, session, showError, t, tokenFromFragment, translate } from "../ft.js";

const KEY = "operator";

addStrings({
  "console.brand": { zh: "FaceTrust 风控台", en: "FaceTrust console" },
  "nav.dashboard": { zh: "概览", en: "Dashboard" },
  "nav.cases": { zh: "案件", en: "Cases" },
  "nav.accounts": { zh: "账户查询", en: "Accounts" },
  "nav.audit": { zh: "审计", en: "Audit" },
  "nav.webhooks": { zh: "Webhook 投递", en: "Webhooks" },
  "nav.devices": { zh: "设备审核", en: "Device reviews" },
  "nav.operators": { zh: "操作员", en: "Operators" },
  "signin.title": { zh: "操作员登录", en: "Operator sign-in" },
  "signin.explain": { zh: "请粘贴管理员用 “facetrust operators token 姓名 --role 角色” 为您签发的操作员凭证。凭证只保存在本标签页中，关闭即退出。",
    en: "Paste the operator token an admin issued you with “facetrust operators token NAME --role ROLE”. It is kept in this tab only; closing the tab signs you out." },
  "signin.token": { zh: "操作员凭证", en: "Operator token" },
  "signin.button": { zh: "登录", en: "Sign in" },
  "signin.empty": { zh: "请先粘贴凭证。", en: "Paste a token first." },
  "console.who": { zh: "{name} · {role}", en: "{name} · {role}" },
  "console.needs_roles": { zh: "此操作需要以下角色之一：{roles}。您当前的角色是：{mine}。",
    en: "This needs one of the roles: {roles}. You are signed in as: {mine}." },
  "console.new_token": { zh: "请向管理员申请新的操作员凭证后重新登录。", en: "Ask an admin for a new operator token and sign in again." },
  "role.risk_analyst": { zh: "风控分析师", en: "Risk analyst" },
  "role.compliance_officer": { zh: "合规专员", en: "Compliance officer" },
  "role.admin": { zh: "管理员", en: "Admin" },
  "action.approve": { zh: "通过", en: "Approve" },
  "action.step_up": { zh: "加强验证", en: "Step-up" },
  "action.review": { zh: "人工审核", en: "Review" },
  "action.decline": { zh: "拒绝", en: "Decline" },
  "action.freeze": { zh: "冻结", en: "Freeze" },
  "status.active": { zh: "正常", en: "Active" },
  "status.frozen": { zh: "已冻结", en: "Frozen" },
  "status.closed": { zh: "已注销", en: "Closed" },
  "case.status.open": { zh: "待处理", en: "Open" },
  "case.status.assigned": { zh: "处理中", en: "Assigned" },
  "case.status.closed": { zh: "已结案", en: "Closed" },
  "outcome.fraud_confirmed": { zh: "确认欺诈", en: "Fraud confirmed" },
  "outcome.false_positive": { zh: "误报", en: "False positive" },
  "outcome.inconclusive": { zh: "无法确定", en: "Inconclusive" },
});

// The signed-in operator ({name, role, tenant_id}: null for a platform operator), once known.
export let me = null;

export const roleName = (role) => t("role." + role);
export const actionName = (action) => t("action." + action);

// An API call with the operator's token.
export function call(method, path, body) {
  return api(method, path, { body, token: session.get(KEY) });
}

// Show a failure in a box: what happened and what to do (showError), plus for a refused role which
// roles the action needs, and for an expired token the way back in.
export function fail(box, error, roles = null) {
  showError(box, error);
  if (error.code === "forbidden" && roles) {
    box.append(el("p", { class: "todo needs-roles" },
      t("console.needs_roles", { roles: roles.map(roleName).join(" / "), mine: me ? roleName(me.role) : "-" })));
  }
  if (error.code === "unauthenticated") {
    box.append(el("p", { class: "todo" }, t("console.new_token")));
    signOut(false);
  }
}

function header(current, onLanguage) {
  const links = [["/console/", "nav.dashboard"], ["/console/cases", "nav.cases"], ["/console/accounts", "nav.accounts"],
    ["/console/audit", "nav.audit"], ["/console/webhooks", "nav.webhooks"], ["/console/devices", "nav.devices"]];
  document.querySelector("header.bar").replaceChildren(
    el("a", { class: "brand", href: "/console/", "data-i18n": "console.brand" }, t("console.brand")),
    el("nav", {}, [...links.map(([href, key]) =>
      el("a", { href, "data-i18n": key, "aria-current": href === current ? "page" : null }, t(key))),
    // Admins only (shown once the operator is known): managing operators.
    el("a", { href: "/console/operators", id: "nav-operators", hidden: true, "data-i18n": "nav.operators",
      "aria-current": current === "/console/operators" ? "page" : null }, t("nav.operators"))]),
    el("span", { id: "who", class: "small muted" }),
    el("button", { id: "sign-out", class: "link", type: "button", hidden: true, onclick: () => signOut(true),
      "data-i18n": "common.sign_out" }, t("common.sign_out")),
    el("button", { id: "lang", class: "link", type: "button" }),
  );
  languageSwitch(() => { showWho(); onLanguage(); });
}

function showWho() {
  const who = document.getElementById("who");
  who.textContent = me ? t("console.who", { name: me.name, role: roleName(me.role) }) : "";
  document.getElementById("sign-out").hidden = !me;
  document.getElementById("nav-operators").hidden = !(me && me.role === "admin");
}

function signOut(byChoice) {
  session.clear(KEY);
  me = null;
  showWho();
  const signin = document.getElementById("signin");
  signin.hidden = false;
  if (byChoice) document.getElementById("page").hidden = true;
}

function signInForm(ready) {
  const box = el("div", { id: "signin-error", hidden: true });
  const input = el("textarea", { id: "token", autocomplete: "off", spellcheck: "false" });
  const submit = async () => {
    const token = input.value.trim();
    if (!token) {
      box.replaceChildren(t("signin.empty"));
      box.className = "notice error";
      box.hidden = false;
      return;
    }
    session.set(KEY, token);
    input.value = "";
    await whoAmI(box, ready);
  };
  document.getElementById("signin").replaceChildren(
    el("h1", { "data-i18n": "signin.title" }, t("signin.title")),
    el("p", { class: "muted", "data-i18n": "signin.explain" }, t("signin.explain")),
    el("label", { for: "token", "data-i18n": "signin.token" }, t("signin.token")),
    input,
    el("button", { class: "block", id: "sign-in", type: "button", onclick: submit, "data-i18n": "signin.button" }, t("signin.button")),
    box,
  );
}

async function whoAmI(box, ready) {
  try {
    me = await call("GET", "/v1/operator/me");
  } catch (error) {
    fail(box, error);
    document.getElementById("signin").hidden = false;
    return;
  }
  box.hidden = true;
  showWho();
  document.getElementById("signin").hidden = true;
  document.getElementById("page").hidden = false;
  await ready();
}

// Start a console page: header, sign-in (token from the URL fragment, the tab's session or the
// form), then ``ready``; ``onLanguage`` re-renders what the page drew itself.
export async function start(current, { ready, onLanguage = () => {} }) {
  header(current, onLanguage);
  signInForm(ready);
  translate();
  const token = tokenFromFragment(KEY);
  if (!token) {
    document.getElementById("signin").hidden = false;
    return;
  }
  await whoAmI(document.getElementById("signin-error"), ready);
}

// Small shared pieces of the pages.
export function badge(kind, value, label) {
  return el("span", { class: `status ${value}`, "data-value": value }, label ?? t(`${kind}.${value}`));
}

export function shortId(id) {
  return id ? id.slice(0, 8) : "";
}

export function field(label, value) {
  return [el("dt", {}, t(label)), el("dd", {}, value ?? "—")];
}
