// Drives the built app in two headless Chromium tabs against a running server.
// Usage: node e2e/app.mjs <server base URL> <email> <password> <tenant> <project>
// The user must belong to <tenant> (not their first tenant) holding <project>
// with more than one page of tasks. Prints one JSON line of what it saw;
// throws (exit 1) when the app does not do what a user expects.
import { build, preview } from "vite";
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";

const [base, email, password, tenant, project] = process.argv.slice(2);
const root = fileURLToPath(new URL("..", import.meta.url));
process.env.TENANTRY_URL = base; // read by vite.config.ts: where /graphql goes

await build({ root, logLevel: "warn" });
const server = await preview({ root, logLevel: "warn", preview: { host: "127.0.0.1", port: 0 } });
const app = server.resolvedUrls.local[0];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
const seen = {};
const timeout = 20000;
try {
  const context = await browser.newContext();
  seen.refreshes = 0;
  const open = async () => {
    const page = await context.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      if (r.postData()?.includes("RefreshSession")) seen.refreshes += 1;
    });
    await page.goto(app);
    return page;
  };
  const text = (page, selector) => page.locator(selector).innerText({ timeout });
  const titles = (page) => page.locator("#tasks li .title").allInnerTexts();
  const waitFor = (page, selector, content) =>
    page.locator(selector, { hasText: content }).first().waitFor({ timeout });
  const line = (page, title) => page.locator("#tasks li", { hasText: title });

  const signIn = async (page) => {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await waitFor(page, "#who", email);
  };
  const projects = async (page) => {
    await page.locator("#projects button").first().waitFor({ timeout });
    return page.locator("#projects button").allInnerTexts();
  };
  const switchTenant = async (page) => {
    const option = page.locator("#tenant option", { hasText: tenant });
    await page.locator("#tenant").selectOption(await option.getAttribute("value"));
    await waitFor(page, "#who", `in ${tenant}`);
  };
  const openProject = async (page) => {
    await page.getByRole("button", { name: project, exact: true }).click();
    await waitFor(page, "#total", "page 1");
  };

  // Tab A: sign in (to the first tenant), switch, page through the project.
  const a = await open();
  await signIn(a);
  seen.projectsBeforeSwitch = await projects(a);
  await switchTenant(a);
  await a.locator("#projects button", { hasText: project }).waitFor({ timeout });
  seen.projectsAfterSwitch = await projects(a);
  await openProject(a);
  seen.total = await text(a, "#total");
  seen.page1 = await titles(a);
  await a.getByRole("button", { name: "Next page" }).click();
  await waitFor(a, "#total", "page 2");
  seen.page2 = await titles(a);
  seen.nextOnLastPage = await a.getByRole("button", { name: "Next page" }).isEnabled();
  await a.getByRole("button", { name: "Previous page" }).click();
  await waitFor(a, "#total", "page 1");
  seen.page1Again = await titles(a);

  // Tab B: the same user, the same project, in its own session.
  const b = await open();
  await signIn(b);
  await switchTenant(b);
  await openProject(b);

  // A creates a task; B sees it arrive without reloading.
  const created = "Written in tab A";
  await a.getByLabel("New task title").fill(created);
  await a.getByRole("button", { name: "Add task" }).click();
  await line(a, created).waitFor({ timeout });
  await line(b, created).waitFor({ timeout });
  await waitFor(b, "#activity li", `CREATED: ${created}`);

  // A opens an editor (on version 1); meanwhile B renames the task.
  await line(a, created).getByRole("button", { name: "Edit" }).click();
  const renamed = "Renamed in tab B";
  await line(b, created).getByRole("button", { name: "Edit" }).click();
  await b.locator("#tasks form").getByLabel("Title").fill(renamed);
  await b.locator("#tasks form").getByRole("button", { name: "Save" }).click();
  await waitFor(b, "#tasks li", `${renamed}`);
  seen.afterRenameInB = await text(b, "#tasks li:first-child");
  await waitFor(a, "#activity li", `UPDATED: ${renamed}`);

  // A saves its stale edit: refused with CONFLICT, shown; saving again wins.
  const editorA = a.locator("#tasks form");
  await editorA.getByLabel("Title").fill("Final from tab A");
  await editorA.getByRole("button", { name: "Save" }).click();
  await waitFor(a, "#tasks form .note", "CONFLICT");
  seen.conflict = await text(a, "#tasks form .note");
  await editorA.getByRole("button", { name: "Save" }).click();
  await waitFor(a, "#tasks li", "version 3");
  seen.afterSaveInA = await text(a, "#tasks li:first-child");
  await waitFor(b, "#tasks li", "Final from tab A");
  seen.inBAtTheEnd = await text(b, "#tasks li:first-child");
  // Tokens renewed on their own while the tabs worked: the server gave them
  // a few seconds of life (the test sets auth.access_token_ttl_secs).
  for (let i = 0; i < 300 && seen.refreshes < 2; i++) await a.waitForTimeout(100);
  // Still signed in after renewals: a change from B reaches A and A can write.
  await b.locator("#tasks li", { hasText: "Final from tab A" }).getByRole("button", { name: "Edit" }).click();
  await b.locator("#tasks form").getByLabel("Title").fill("After the renewal");
  await b.locator("#tasks form").getByRole("button", { name: "Save" }).click();
  await waitFor(a, "#tasks li", "After the renewal");
  seen.errorShown = (await a.locator("#error").isVisible()) ? await text(a, "#error") : null;
} finally {
  await browser.close();
  await new Promise((resolve) => server.httpServer.close(resolve));
}
if (problems.length) throw new Error(problems.join("\n"));
console.log(JSON.stringify(seen));
