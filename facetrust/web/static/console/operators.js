// Operators, for admins: the operators this admin manages (a platform admin: every tenant's and the
// platform's; a tenant's admin: their own tenant's), a new one with their first token shown once,
// and disabling one. The service decides who may do what (facetrust/identity/operators.py); this
// page only offers what it would accept.
import { addStrings, el, t, when } from "../ft.js";
import { call, fail, me, roleName, start } from "./common.js";

const ROLES = ["risk_analyst", "compliance_officer", "admin"];

addStrings({
  "ops.title": { zh: "操作员", en: "Operators" },
  "ops.scope_platform": { zh: "您是平台管理员：可管理所有租户及平台的操作员。", en: "You are a platform admin: you manage every tenant's operators and the platform's." },
  "ops.scope_tenant": { zh: "您是租户 {tenant} 的管理员：只能管理本租户的操作员。", en: "You are an admin of tenant {tenant}: you manage only its operators." },
  "ops.col_name": { zh: "姓名", en: "Name" },
  "ops.col_role": { zh: "角色", en: "Role" },
  "ops.col_tenant": { zh: "租户", en: "Tenant" },
  "ops.col_status": { zh: "状态", en: "Status" },
  "ops.col_created": { zh: "创建时间", en: "Created" },
  "ops.col_action": { zh: "操作", en: "Action" },
  "ops.platform": { zh: "平台（所有租户）", en: "Platform (every tenant)" },
  "ops.active": { zh: "正常", en: "Active" },
  "ops.disabled": { zh: "已停用", en: "Disabled" },
  "ops.disable": { zh: "停用 {name}", en: "Disable {name}" },
  "ops.create": { zh: "新建操作员", en: "New operator" },
  "ops.name": { zh: "姓名（登录名）", en: "Name (sign-in name)" },
  "ops.role": { zh: "角色", en: "Role" },
  "ops.tenant": { zh: "所属租户", en: "Tenant" },
  "ops.create_button": { zh: "创建", en: "Create" },
  "ops.created": { zh: "已创建 {name}。请把下面的凭证交给此人；它只显示这一次。", en: "{name} was created. Give them the token below; it is shown only this once." },
  "ops.needs_admin": { zh: "此页面只对管理员开放。", en: "This page is for admins only." },
});

let operators = [];
let tenants = [];

function tenantName(id) {
  if (!id) return t("ops.platform");
  const found = tenants.find((x) => x.tenant_id === id);
  return found ? found.name : id;
}

function render() {
  document.getElementById("ops-scope").textContent = me && me.tenant_id
    ? t("ops.scope_tenant", { tenant: tenantName(me.tenant_id) }) : t("ops.scope_platform");
  const columns = [
    ["ops.col_name", (o) => el("code", {}, o.name)],
    ["ops.col_role", (o) => roleName(o.role)],
    ["ops.col_tenant", (o) => tenantName(o.tenant_id)],
    ["ops.col_status", (o) => el("span", { class: `status ${o.status}`, "data-value": o.status }, t("ops." + o.status))],
    ["ops.col_created", (o) => when(o.created_at)],
    ["ops.col_action", (o) => (o.status === "active" && o.name !== me.name
      ? el("button", { type: "button", class: "secondary", "data-disable": o.name, onclick: () => disable(o.name) },
        t("ops.disable", { name: o.name }))
      : "—")],
  ];
  document.getElementById("ops").replaceChildren(operators.length
    ? el("table", { id: "ops-table" },
      el("thead", {}, el("tr", {}, columns.map(([key]) => el("th", { scope: "col" }, t(key))))),
      el("tbody", {}, operators.map((o) => el("tr", { "data-operator": o.name },
        columns.map(([, cell]) => el("td", {}, cell(o)))))))
    : el("p", { class: "empty" }, t("common.none")));
  const role = document.getElementById("op-role");
  const chosenRole = role.value || "risk_analyst";
  role.replaceChildren(...ROLES.map((r) => el("option", { value: r, selected: r === chosenRole }, roleName(r))));
  const tenant = document.getElementById("op-tenant");
  const chosen = tenant.value;
  const choices = me.tenant_id ? [me.tenant_id] : ["", ...tenants.map((x) => x.tenant_id)];
  tenant.replaceChildren(...choices.map((id) => el("option", { value: id, selected: id === chosen }, tenantName(id))));
}

async function load() {
  const box = document.getElementById("ops-error");
  try {
    [tenants, operators] = await Promise.all([call("GET", "/v1/operator/tenants"), call("GET", "/v1/operator/operators")]);
    box.hidden = true;
  } catch (error) {
    fail(box, error, ["admin"]);
    return;
  }
  render();
}

async function disable(name) {
  const box = document.getElementById("ops-error");
  try {
    await call("POST", `/v1/operator/operators/${encodeURIComponent(name)}/disable`);
  } catch (error) {
    fail(box, error, ["admin"]);
    return;
  }
  await load();
}

async function create(event) {
  event.preventDefault();
  const box = document.getElementById("ops-error");
  const created = document.getElementById("ops-created");
  const body = {
    name: document.getElementById("op-name").value.trim(),
    role: document.getElementById("op-role").value,
    tenant_id: document.getElementById("op-tenant").value || null,
  };
  let answer;
  try {
    answer = await call("POST", "/v1/operator/operators", body);
  } catch (error) {
    created.hidden = true;
    fail(box, error, ["admin"]);
    return;
  }
  box.hidden = true;
  document.getElementById("op-name").value = "";
  created.className = "notice";
  created.replaceChildren(
    el("p", {}, t("ops.created", { name: answer.name })),
    el("label", { for: "op-token" }, t("signin.token")),
    el("textarea", { id: "op-token", readonly: true, spellcheck: "false" }, answer.token),
  );
  created.hidden = false;
  await load();
}

start("/console/operators", {
  ready: async () => {
    if (me.role !== "admin") {
      const box = document.getElementById("ops-error");
      box.className = "notice error";
      box.replaceChildren(t("ops.needs_admin"));
      box.hidden = false;
      document.getElementById("ops-form").hidden = true;
      return;
    }
    document.getElementById("ops-form").addEventListener("submit", create);
    await load();
  },
  onLanguage: () => { if (me && me.role === "admin" && tenants) render(); },
});
